"""The commands about data: ``download`` (the official files), ``pack`` (the data the project ships) and ``cache``
(the data it keeps)."""

from __future__ import annotations

import json
import sys


def cmd_download(args) -> int:
    from emnist_core.data.download import default_data_dir, download

    # One archive serves every split: the first split downloads it, the others read the copy kept in the cache.
    paths = [path for split in args.split for path in download(split, args.part, data_dir=args.data_dir, url=args.url)]
    for path in paths:
        print(path)
    if args.data_dir and paths[0].parent.resolve() != default_data_dir().resolve():
        print(f"the other commands find them with --data-dir {args.data_dir} (or EMNIST_DATA_DIR)", file=sys.stderr)
    return 0


def cmd_pack(args) -> int:
    """Rebuild the demo data pack from the full files (never from the pack itself)."""
    from emnist_core.data import datasets as ds
    from emnist_core.data import drawn, pack
    from emnist_core.data.cache import identity_digest, source_files
    from emnist_core.data.unipen import RELEASE_NAME

    x, y, part, emnist_files = ds.pool47_arrays(args.data_dir)
    ux, meta, root = drawn.unipen_arrays(args.unipen_dir)
    drawn_files = source_files(drawn.unipen_files(root), root)
    sources = {
        "emnist": source_files(emnist_files),
        "unipen": {
            "release": RELEASE_NAME,
            "files": len(drawn_files),
            "bytes": sum(f["size"] for f in drawn_files),
            "sha256": identity_digest(drawn_files),
            "sha256_of": "lines 'path|size|sha256\\n' of every file under data/ and include/, in path order",
            "render_version": drawn.UNIPEN_RENDER_VERSION,
        },
    }
    manifest = pack.build(args.out, (x, y, part), (ux, meta), sources)
    print(json.dumps({"pack": args.out, "files": manifest["files"], "contents": manifest["contents"]}, indent=1))
    return 0


def cmd_cache(args) -> int:
    from emnist_core.data import cache

    def size(n: int) -> str:
        return f"{n / 1e6:,.1f} MB"

    items = cache.entries()
    width = max([len("total"), *(len(i.name) for i in items)])
    print(f"cache: {cache.cache_dir()} (EMNIST_CACHE_DIR moves it)")
    for item in items:
        mark = "" if item.cleared else "  [kept by --clear]"
        print(f"  {item.name:<{width}} {size(item.bytes):>10}  {item.what}{mark}")
    print(f"  {'total':<{width}} {size(sum(i.bytes for i in items)):>10}")
    if args.clear:
        freed, kept = cache.clear()
        print(
            f"cleared {size(freed)}"
            + (f"; kept {', '.join(i.name for i in kept)} ({size(sum(i.bytes for i in kept))})" if kept else "")
        )
    return 0
