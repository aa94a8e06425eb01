"""Delete the files S3Proxy's filesystem backend left of writes it never finished; run by
`s3proxy.sh start` before S3Proxy starts, when no write can be in progress.

S3Proxy 2.6.0 (filesystem-nio2) writes an object, a multipart upload's part included, to a file named
`<key>-<random UUID>` beside it, sets its ETag as an extended attribute (user.content-md5, on disk
user.user.content-md5) once the body is whole, then renames it. A body cut off (the client gone
mid-request) leaves that file for good, without the attribute; every listing that meets it answers
500: its upload's ListParts, the bucket's ListMultipartUploads, a ListObjectsV2 over its folder. No S3
request can name it (the UUID is in no answer), so no client can delete it.

    python3 deploy/local/s3proxy_litter.py DATA_FOLDER
"""

import errno
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

UNFINISHED = re.compile(r"-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ETAG = "user.user.content-md5"


def unfinished_writes(data: Path) -> Iterator[Path]:
    """The files under `data` named as S3Proxy's writes in progress that never got their ETag (an
    object named so, written whole, has it)."""
    for folder, _, names in os.walk(data):
        for name in names:
            path = Path(folder, name)
            if UNFINISHED.search(name) and ETAG not in os.listxattr(path):
                yield path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    try:
        litter = list(unfinished_writes(Path(argv[1])))
    except OSError as error:
        if error.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        # Without extended attributes a finished write cannot be told from one cut off: keep them all.
        print(f"s3proxy.sh: {argv[1]} keeps no extended attributes; no write deleted", file=sys.stderr)
        return 0
    for path in litter:
        path.unlink()
        print(f"s3proxy.sh: deleted {path}, a write S3Proxy never finished")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
