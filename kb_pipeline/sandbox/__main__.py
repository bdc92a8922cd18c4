"""`python -m kb_pipeline.sandbox`: serve the sandbox in the foreground."""

from __future__ import annotations

import argparse

from kb_pipeline.sandbox.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m kb_pipeline.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--no-qps", action="store_true", help="no per-vendor rate limits (raw speed)")
    args = parser.parse_args()
    qps = None if args.no_qps else "default"
    serve(args.host, args.port, args.seed, args.scale, qps, announce=lambda text: print(text, flush=True))


if __name__ == "__main__":
    main()
