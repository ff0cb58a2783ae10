"""qdlib.library.identity: when two relaxed structures are one minimum."""

import numpy as np

from qdlib import library


def test_a_permuted_turned_copy_is_one_minimum_and_another_isomer_two(two_minima):
    a, b, again = two_minima
    order = np.arange(len(a))
    for z in set(a.numbers):  # like atoms reordered
        like = np.flatnonzero(a.numbers == z)
        order[like] = like[::-1]
    copy = a[order]
    copy.rotate(123, (1, 2, 3))
    copy.translate([5.0, -2.0, 1.0])
    copy.info["e_xtb_ev"] = a.info["e_xtb_ev"]
    assert library.aligned_rmsd(a, copy) < 1e-6
    assert library.same_minimum(a, copy)
    mirrored = a.copy()
    mirrored.positions[:, 0] *= -1
    assert library.same_minimum(a, mirrored)  # an enantiomer: the same spectrum, one member
    assert abs(a.info["e_xtb_ev"] - b.info["e_xtb_ev"]) > 0.01, "the two starts should reach different minima"
    assert not library.same_minimum(a, b)
    assert library.same_minimum(a, again) and library.aligned_rmsd(a, again) > 0  # relaxed apart, one minimum
    groups = library.unique_minima([b, a, copy, again])
    assert sorted(map(sorted, groups)) == [[0], [1, 2, 3]] and groups[0][0] in (1, 2, 3)  # lowest first
    nudged = a.copy()
    nudged.positions[0] += [0.4, 0, 0]  # same energy label, different structure: the geometry decides
    assert not library.same_minimum(a, nudged)
