"""python -m t2i.data.synthbirds OUT [--size 64] [--n 11788] [--seed 0] [--workers 2] [--sheet PNG] [--photo]"""
import argparse

from .dataset import contact_sheet, write_synthbirds


def main(argv=None) -> None:
    """Command line: render the SynthBirds dataset (and optionally a contact sheet)."""
    ap = argparse.ArgumentParser(prog="python -m t2i.data.synthbirds",
                                 description="Render the SynthBirds dataset (CUB-200-2011 layout).")
    ap.add_argument("out", help="output folder")
    ap.add_argument("--size", type=int, default=64, help="image side in pixels")
    ap.add_argument("--n", type=int, default=11788, help="number of images")
    ap.add_argument("--seed", type=int, default=0, help="dataset seed")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--sheet", default=None, help="also write a contact sheet PNG here")
    ap.add_argument("--photo", type=float, nargs="?", const=1.0, default=0.0, metavar="SHARE",
                    help="photo-like renders (ours; t2i.data.synthbirds.photo) for this share of the images (alone: all)")
    args = ap.parse_args(argv)
    root = write_synthbirds(args.out, args.size, args.n, args.seed, args.workers, photo=args.photo)
    if args.sheet:
        contact_sheet(root, args.sheet)


if __name__ == "__main__":
    main()
