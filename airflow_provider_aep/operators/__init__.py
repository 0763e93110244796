"""Operators, where Airflow's provider layout and ``get_provider_info`` expect them."""
