"""TD-DFT in the loop: design campaigns whose designs TD-DFT confirms.

The paper designs structures against a surrogate and never asks TD-DFT until the end; our
reproduction found every such design rejected by TD-DFT. A campaign puts TD-DFT inside the
loop and counts its cost in TD-DFT calls:

:mod:`~qdlib.campaign.space`
    The design space: the paper's cuboids, restricted to physical structures (pair
    distances, GFN2-xTB then DFT strain), and random physical designs.
:mod:`~qdlib.campaign.criterion`
    When a design is confirmed (peak, shape, strain on a covered window), and the targets
    T0, T+10, T−10.
:mod:`~qdlib.campaign.loop`
    :class:`Campaign`: propose → TD-DFT → judge → record, resumable from its log and the
    shared results store; the random control (:class:`RandomDesigns`) and the undisplaced
    dot (:class:`UnmovedDesign`).
:mod:`~qdlib.campaign.stable`
    :class:`StableFirstDesigns`: the control that needs no model — the pool in ascending xTB strain.
:mod:`~qdlib.campaign.forces`
    Would a design stay where it was put? DFT forces on designed structures.
:mod:`~qdlib.campaign.results`
    What the campaigns found, read back from their logs (notebook 07's tables, survival curves and
    the exact test over independent streams).
:mod:`~qdlib.campaign.surrogate`
    :class:`SurrogateDesigns`: the paper's pipeline — the surrogate's best designs, verified in order.
:mod:`~qdlib.campaign.bayes`
    :class:`BayesianDesigns`: Bayesian optimisation directly on TD-DFT (BoTorch).
:mod:`~qdlib.campaign.active`
    :class:`ActiveDesigns`: active learning with a forward model of the spectrum
    (:class:`SpectrumModel`, Gaussian processes with uncertainty) judged by the criterion.
"""

from .active import ActiveDesigns, SpectrumModel, held_out_scores, scores_by_round
from .bayes import BayesianDesigns
from .criterion import (SHAPE_SHIFT_NM, Confirmation, Criterion, calibrate_shape_shift, campaign_target, covering_window,
                        shifted_similarity, target_name)
from .loop import BLIND_METHODS, TARGET_SHIFTS_NM, CallRecord, Campaign, CampaignConfig, RandomDesigns, UnmovedDesign, read_log
from .results import (
    CampaignLog,
    config_from_name,
    confirmed_by_call,
    confirmed_designs,
    first_rate,
    format_summary,
    pass_rate,
    read_campaigns,
    shared_designs,
    sort_rows,
    strain_agreement,
    stream_test,
    summary_rows,
    survival,
)
from .space import DesignSpace, PhysicalBounds, XTBStrain
from .stable import StableFirstDesigns
from .surrogate import SurrogateDesigns

__all__ = [
    "Criterion",
    "Confirmation",
    "shifted_similarity",
    "calibrate_shape_shift",
    "SHAPE_SHIFT_NM",
    "campaign_target",
    "covering_window",
    "target_name",
    "TARGET_SHIFTS_NM",
    "CampaignConfig",
    "CallRecord",
    "Campaign",
    "RandomDesigns",
    "UnmovedDesign",
    "StableFirstDesigns",
    "BLIND_METHODS",
    "BayesianDesigns",
    "ActiveDesigns",
    "SpectrumModel",
    "held_out_scores",
    "scores_by_round",
    "SurrogateDesigns",
    "read_log",
    "CampaignLog",
    "read_campaigns",
    "config_from_name",
    "summary_rows",
    "confirmed_by_call",
    "confirmed_designs",
    "survival",
    "first_rate",
    "stream_test",
    "shared_designs",
    "pass_rate",
    "strain_agreement",
    "sort_rows",
    "format_summary",
    "DesignSpace",
    "PhysicalBounds",
    "XTBStrain",
]
