"""The detector's worst cases: false starts in one large chunk and in 1-character chunks.

Three inputs from the field's worst cases (`"[" * 200_000`, `"[a" * 200_000` and
`"[Calculator(1+1) x" * 50_000`), and the same with the full-width bracket `［`, are fed
whole and one character at a time. Each line gives the CPU time, the detector's work per
character (its own count of characters examined and steps taken), and two baselines from
the same run: plain prose of the same length fed the same way, and the same input at a
quarter of the length (a linear detector takes about a quarter of the time). Target: each
under 0.2 s.

    python benchmarks/detector.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import time

from agent.detector import Detector

INPUTS = tuple((unit, count) for bracket in "[［" for unit, count in (
    (bracket, 200_000), (bracket + "a", 200_000), (bracket + "Calculator(1+1) x", 50_000)))
PROSE = "Out of 1400 participants, 400 passed the test; the rest did not. "


def feed(text: str, whole: bool) -> tuple[float, int]:
    """CPU seconds (best of 3) and work to detect `text`, whole or one character at a time."""
    best, work = float("inf"), 0
    for _ in range(3):
        detector = Detector()
        start = time.process_time()
        for piece in [text] if whole else text:
            detector.feed(piece)
        detector.finish()
        best, work = min(best, time.process_time() - start), detector.work
    return best, work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="the inputs' length, as a fraction of the field's")
    args = parser.parse_args()
    print(f"{'input':32} {'chunks':>7} {'CPU s':>7} {'work/char':>9} {'prose s':>8} {'1/4 size':>9}")
    for unit, full in INPUTS:
        count = max(4, int(full * args.scale))
        label, text = f'"{unit}" * {count:_}', unit * count
        prose = (PROSE * (len(text) // len(PROSE) + 1))[: len(text)]
        for whole in (True, False):
            seconds, work = feed(text, whole)
            quarter, _ = feed(unit * (count // 4), whole)
            base, _ = feed(prose, whole)
            print(f"{label:32} {'whole' if whole else '1 char':>7} {seconds:7.3f} {work / len(text):9.2f} "
                  f"{base:8.3f} {seconds / max(quarter, 1e-9):8.1f}x")


if __name__ == "__main__":
    main()
