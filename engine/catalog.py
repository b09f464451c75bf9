"""The bundled catalog `builtin:paper` and the three paper scenarios (science.md section 5).

The model table is the reference notebook's, same keys and values, embedded as data so the
engine needs no file to run the default sweep.
"""

from __future__ import annotations

from typing import Any

from infscale.engine.specs import ModelSpec, ScenarioSpec

from infscale.engine.validation import catalog_from_mapping, scenario_from_mapping

BUILTIN_PREFIX = "builtin:"
PAPER = "builtin:paper"

PAPER_MODELS: dict[str, dict[str, Any]] = {
    'gpt5': {
        'name': 'GPT-5',
        'c_in': 1.25e-06,
        'c_out': 1e-05,
        't_in': 0.0005,
        't_out': 0.005,
        'mu_Lin': 1024,
        'sigma_Lin': 64,
        'mu_Lout': 2048,
        'sigma_Lout': 128,
        'acc_mean': 0.94,
        'acc_std': 0.02,
        'default_parallel': 4,
    },
    'gpt5-mini': {
        'name': 'GPT-5 Mini',
        'c_in': 2.5e-07,
        'c_out': 2e-06,
        't_in': 0.00025,
        't_out': 0.002,
        'mu_Lin': 1024,
        'sigma_Lin': 64,
        'mu_Lout': 2048,
        'sigma_Lout': 128,
        'acc_mean': 0.92,
        'acc_std': 0.03,
        'default_parallel': 4,
    },
    'gpt5-nano': {
        'name': 'GPT-5 Nano',
        'c_in': 5e-08,
        'c_out': 4e-07,
        't_in': 0.0001,
        't_out': 0.001,
        'mu_Lin': 1024,
        'sigma_Lin': 64,
        'mu_Lout': 2048,
        'sigma_Lout': 128,
        'acc_mean': 0.91,
        'acc_std': 0.04,
        'default_parallel': 4,
    },
    'nvidia-nemotron-ultra-253b': {
        'name': 'Nvidia Llama Nemotron Ultra 253B',
        'c_in': 9e-07,
        'c_out': 2.8e-06,
        't_in': 0.001,
        't_out': 0.01,
        'mu_Lin': 1024,
        'sigma_Lin': 64,
        'mu_Lout': 2048,
        'sigma_Lout': 128,
        'acc_mean': 0.93,
        'acc_std': 0.05,
        'default_parallel': 4,
    },
    'nvidia-nemotron-h-47b': {
        'name': 'Nvidia Nemotron H 47B',
        'c_in': 4e-07,
        'c_out': 1.5e-06,
        't_in': 0.0004,
        't_out': 0.004,
        'mu_Lin': 1024,
        'sigma_Lin': 64,
        'mu_Lout': 2048,
        'sigma_Lout': 128,
        'acc_mean': 0.92,
        'acc_std': 0.06,
        'default_parallel': 4,
    },
    'nvidia-nemotron-nano-9b-v2': {
        'name': 'Nvidia Nemotron Nano 9B v2',
        'c_in': 2e-07,
        'c_out': 1e-06,
        't_in': 0.00012,
        't_out': 0.0012,
        'mu_Lin': 1024,
        'sigma_Lin': 64,
        'mu_Lout': 2048,
        'sigma_Lout': 128,
        'acc_mean': 0.91,
        'acc_std': 0.07,
        'default_parallel': 4,
    },
    'qwen3-max': {
        'name': 'Qwen3-Max',
        'c_in': 9e-07,
        'c_out': 2.4e-06,
        't_in': 0.0008,
        't_out': 0.008,
        'mu_Lin': 1024,
        'sigma_Lin': 64,
        'mu_Lout': 2048,
        'sigma_Lout': 128,
        'acc_mean': 0.9,
        'acc_std': 0.04,
        'default_parallel': 4,
    },
    'qwen3-next-80b-a3b': {
        'name': 'Qwen3-Next-80B-A3B',
        'c_in': 5e-07,
        'c_out': 1.25e-06,
        't_in': 0.0004,
        't_out': 0.004,
        'mu_Lin': 1024,
        'sigma_Lin': 64,
        'mu_Lout': 2048,
        'sigma_Lout': 128,
        'acc_mean': 0.89,
        'acc_std': 0.05,
        'default_parallel': 4,
    },
    'qwen3-30b-a3b': {
        'name': 'Qwen3-30B-A3B',
        'c_in': 3.5e-07,
        'c_out': 9e-07,
        't_in': 0.00025,
        't_out': 0.002,
        'mu_Lin': 1024,
        'sigma_Lin': 64,
        'mu_Lout': 2048,
        'sigma_Lout': 128,
        'acc_mean': 0.88,
        'acc_std': 0.06,
        'default_parallel': 4,
    },
}

PAPER_SCENARIOS: tuple[dict[str, Any], ...] = (
    # The notebook's defaults.
    {"name": "balanced", "max_total_cost": 0.50, "max_total_time": 60.0, "min_accuracy": 0.88,
     "k_max": 128, "parallelism": 4},
    # Interactive: tight latency, many parallel calls.
    {"name": "latency-critical", "max_total_cost": 0.25, "max_total_time": 20.0, "min_accuracy": 0.90,
     "k_max": 64, "parallelism": 8},
    # Offline, high stakes.
    {"name": "accuracy-critical", "max_total_cost": 2.00, "max_total_time": 300.0, "min_accuracy": 0.97,
     "k_max": 256, "parallelism": 4},
)


def builtin_catalog(name: str) -> dict[str, ModelSpec]:
    """The models of a built-in catalog by its `builtin:` name."""
    if name != PAPER:
        raise KeyError(name)
    return catalog_from_mapping({"models": PAPER_MODELS}, PAPER)


def builtin_scenarios() -> dict[str, ScenarioSpec]:
    """The paper scenarios by name, in the order of science.md."""
    return {
        s["name"]: scenario_from_mapping(s, PAPER, f"scenarios.{s['name']}") for s in PAPER_SCENARIOS
    }
