"""qdlib.qchem's package namespace: every public name importable from qdlib.qchem."""

from qdlib import qchem


def test_public_names_are_importable_from_the_package():
    """Whichever module of qdlib.qchem defines a name, it is imported from qdlib.qchem (result_key also from store)."""
    from qdlib import store

    used = {"BackendUnavailableError", "EngineOptions", "Excitations", "HARTREE_EV", "OptimizationCheckpoint",
            "ResponseCheckpoint", "SCFConvergenceError", "TDDFTSettings", "build_mol", "dominant_transitions",
            "complex_instability", "emission", "excitations", "follow_internal_instability", "format_transition", "gpu_available",
            "next_state_count", "optimize_excited_state", "optimize_ground_state", "result_key", "run_scf",
            "run_tddft", "select_backend", "state_gradient", "versions"}  # fmt: skip
    assert used <= set(qchem.__all__) and all(hasattr(qchem, name) for name in qchem.__all__)
    assert store.result_key is qchem.result_key
