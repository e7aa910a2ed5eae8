"""Run the test suite's fake OpenAI-compatible server in its own process (for benchmarks).

    python benchmarks/serve_fake_openai.py --latency 0.05 [--fault-rate 0.1] [--batch-seconds 1] [--limit-rpm 3000]
Prints the base URL on the first line, then serves until stdin closes. Writes the request log
(arrival times of the requests it accepted) and the number it refused with a 429 for its own
limit to --log on exit.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from personality_assets_tests.support.llm_servers import FakeOpenAIServer

parser = argparse.ArgumentParser()
parser.add_argument("--latency", type=float, default=0.05)
parser.add_argument("--fault-rate", type=float, default=0.0)
parser.add_argument("--log", default=None)
parser.add_argument("--study-replies", action="store_true", help="reply as the persona study's model would")
parser.add_argument("--batch-seconds", type=float, default=0.2, help="a batch completes this long after it is created")
parser.add_argument(
    "--limit-rpm",
    type=int,
    default=None,
    help="the server's own limit: requests per --limit-window, refilled evenly as OpenAI's",
)
parser.add_argument("--limit-window", type=float, default=60.0)
args = parser.parse_args()
reply = None
if args.study_replies:
    from personality_assets_tests.support.study import study_reply as reply
with FakeOpenAIServer(
    latency=args.latency, fault_rate=args.fault_rate, fault_kinds=("429", "500"), retry_after=0.05, reply=reply
) as server:
    server.batch_seconds = args.batch_seconds
    server.limit_rpm, server.limit_window = args.limit_rpm, args.limit_window
    print(server.base_url, flush=True)
    sys.stdin.read()
    if args.log:
        with open(args.log, "w") as handle:
            requests = [{"time": r["time"], "fault": r["fault"]} for r in server.requests]
            json.dump({"requests": requests, "rate_limited": server.limited}, handle)
