"""``python -m personality_assets.explorer [--host H] [--port P]``: serve the results explorer
(``make explorer``; ``make ui`` starts it beside the Dagster UI)."""

import argparse
from urllib.parse import urlsplit

import uvicorn

from personality_assets import settings
from personality_assets.explorer.app import create_app, default_target


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the results explorer (read-only) over the research database.")
    address = urlsplit(settings.explorer_url())  # PERSONALITY_ASSETS_EXPLORER_URL
    parser.add_argument("--host", default=address.hostname)
    parser.add_argument("--port", type=int, default=address.port or 80)
    arguments = parser.parse_args()
    target = default_target()
    print(f"Results explorer on http://{arguments.host}:{arguments.port} (research database {target.safe_url})")
    uvicorn.run(create_app(target), host=arguments.host, port=arguments.port, log_level="warning")


if __name__ == "__main__":
    main()
