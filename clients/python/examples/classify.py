#!/usr/bin/env python3
"""Classify images with medgemma-server from Python (pip install ./clients/python first).

    python3 clients/python/examples/classify.py --server 127.0.0.1:8500 \
        --token-file classify-token [--tls-ca ca.crt] [--adapter NAME] IMAGE...

Prints one line per image: the label, its confidence, benign/malignant, and the adapter that answered.
"""
import argparse
import sys

from medgemma_client import Client


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True, help="HOST:PORT of medgemma-server")
    ap.add_argument("--token-file", help="bearer token file (the classify or admin token)")
    ap.add_argument("--tls-ca", help="CA of the server's certificate: connect with TLS")
    ap.add_argument("--adapter", default="", help="adapter to classify with (default: the server's default)")
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    token = open(args.token_file).read().strip() if args.token_file else None
    tls_ca = open(args.tls_ca, "rb").read() if args.tls_ca else None
    with Client(args.server, token=token, tls_ca=tls_ca) as client:
        info = client.model_info()
        print(f"model {info.model_id} on {info.device} ({info.dtype})", file=sys.stderr)
        answers = {r.request_id: r for r in client.classify_stream((open(p, "rb").read() for p in args.images),
                                                                   adapter=args.adapter)}
    for i, path in enumerate(args.images):
        r = answers[str(i)]
        print(f"{path}\t{r.label_name}\t{r.confidence:.3f}\t{r.group}\t{r.adapter or '(base model)'}")


if __name__ == "__main__":
    main()
