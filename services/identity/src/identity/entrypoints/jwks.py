"""The public keys that verify identity's access tokens."""

from flask.views import MethodView
from flask_smorest import Blueprint

from identity.entrypoints import schemas
from identity.entrypoints.http import identity

blp = Blueprint("jwks", __name__, url_prefix="/.well-known", description="Token verification keys")


@blp.route("/jwks.json")
class KeySet(MethodView):
    @blp.response(200, schemas.Jwks, headers={"Cache-Control": {"schema": {"type": "string"}}})
    def get(self):
        """Every active public key (two while a key is rotated); cache it, refetch on an unknown kid."""
        with identity().pool.connection() as conn:
            keys = identity().tokens.jwks(conn)
        return keys, 200, {"Cache-Control": "public, max-age=300"}
