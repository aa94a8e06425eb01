"""How the catalogue reaches an S3-compatible object store: boto3's client, configured for any of them."""

import os
from typing import Any


def s3_client() -> Any:
    import boto3

    return boto3.client("s3", config=s3_config())


def s3_config() -> Any:
    """What works with every S3-compatible server (S3Proxy, MinIO, Ceph), not only AWS: path-style
    addresses without per-bucket DNS names (AWS_S3_ADDRESSING_STYLE=virtual for stores that require
    the other), and checksum headers only where the API requires them (boto3's default CRC32 headers
    on every upload are refused by S3Proxy: NotImplemented)."""
    from botocore.config import Config

    return Config(
        s3={"addressing_style": os.environ.get("AWS_S3_ADDRESSING_STYLE", "path")},
        retries={"mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
