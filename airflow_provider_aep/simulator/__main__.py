"""``python -m airflow_provider_aep.simulator``: serve the simulated AEP until interrupted."""

from __future__ import annotations

import argparse
import sys

from airflow_provider_aep.simulator.server import SimulatorServer
from airflow_provider_aep.simulator.state import Scenario, SimulatorState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_aep.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8085, help="port to listen on; 0 picks a free one")
    parser.add_argument("--job-duration", type=float, default=6.0, help="seconds until a job finishes")
    parser.add_argument("--outcome", choices=["SUCCEEDED", "FAILED"], default="SUCCEEDED")
    parser.add_argument("--print-connection", action="store_true", help="print the AIRFLOW_CONN_ value and go on")
    args = parser.parse_args(argv)

    state = SimulatorState(default_scenario=Scenario(outcome=args.outcome, duration=args.job_duration))
    server = SimulatorServer(state, host=args.host, port=args.port)
    if args.print_connection:
        print(server.connection_env_value(), flush=True)
    print(f"AEP simulator listening on {server.url}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
