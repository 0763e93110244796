"""An offline stand-in for Adobe IMS and the AEP export-jobs API, for tests, demos and benchmarks.

Not used by the provider at runtime. Start it in-process with ``SimulatorServer`` or as
``python -m airflow_provider_aep.simulator --port 8085``.
"""

from airflow_provider_aep.simulator.server import SimulatorServer
from airflow_provider_aep.simulator.state import Fault, Scenario, SimulatorState

__all__ = ["Fault", "Scenario", "SimulatorServer", "SimulatorState"]
