"""The public keys that verify identity's access tokens."""

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("jwks", __name__)


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    identity = current_app.extensions["identity"]
    with identity.pool.connection() as conn:
        response = jsonify(identity.tokens.jwks(conn))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
