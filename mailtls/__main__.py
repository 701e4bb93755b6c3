"""``python -m mailtls merge ...``: see :mod:`mailtls.merge`."""

from __future__ import annotations

import sys

from mailtls import merge


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "merge":
        print(
            "usage: python -m mailtls merge PART.json... [--html=H] [--evidence-json=J] "
            "[--junitxml=X]",
            file=sys.stderr,
        )
        return merge.USAGE_ERROR
    return merge.main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
