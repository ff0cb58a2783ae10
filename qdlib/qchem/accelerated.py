"""Accelerated integrals and response kernels: the one place where qdlib changes what PySCF does inside.

Everything here replaces a piece of PySCF's CPU code with one that gives the same numbers (to
rounding) faster, on molecules of a few hundred basis functions (``benchmarks/tddft_speed.py``,
``benchmarks/response_disk.py``). gpu4pyscf objects are never touched. What is replaced, and why:

``NumInt.block_loop`` (:class:`_CachedNumInt`)
    PySCF evaluates the atomic orbitals (and their gradients) on every grid point again in every
    SCF cycle and every response iteration; here the values of the latest grid are kept in memory
    within a budget (``EngineOptions.ao_cache_mb``).
``SCF.get_jk(omega=...)`` (:class:`_LongRangeIncore`, :func:`_keep_integrals_in_memory`)
    PySCF keeps the full-range two-electron integrals in memory when they fit
    (``mol.incore_anyway``) but recomputes the erf-attenuated (long-range) ones of a
    range-separated functional such as CAM-B3LYP from scratch at every call; here both are stored.
``SCF.get_jk`` and ``NumInt.nr_rks_fxc`` inside the linear response (:func:`_mo_space_response`)
    PySCF contracts every trial density with the AO integrals and the AO exchange-correlation
    kernel (about ``n_ao**2`` work per vector and integral or grid point). Response densities are
    occupied–virtual, so J, K and the kernel follow from integrals and orbitals in that space
    (``n_occ * n_vir``): MO-basis integrals held in memory (:class:`_MOSpaceJK`) or, when the AO
    integrals do not fit, computed once to scratch disk and streamed (:class:`_DiskMOSpaceJK`),
    and orbitals tabulated on the response grid (:class:`_MOSpaceFxc`). Any other density, grid or
    functional goes to PySCF's own routine, and the originals are restored when the block ends.

:func:`_drop_caches` frees what all of these hold, so that an SCF object kept for its density does
not keep gigabytes of integrals with it.

Each is switched by a field of :class:`~qdlib.qchem.EngineOptions`; with all of them off, the
engine runs PySCF's own code, to the same answer:

>>> from ase import Atoms
>>> from qdlib.qchem import TDDFTSettings, excitations
>>> plain = EngineOptions(incore_eri=False, mo_space_jk=False, mo_space_xc=False, ao_cache_mb=0)
>>> settings = TDDFTSettings(n_states=2, grid_level=0)
>>> fast, slow = (excitations(Atoms("Cd"), settings, options) for options in (EngineOptions(), plain))
>>> float(abs(fast.energies_ev - slow.energies_ev).max()) < 1e-6  # eV
True
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
import time

import numpy as np

from .backends import _to_numpy
from .settings import EngineOptions

log = logging.getLogger(__name__)


class _CachedNumInt:
    """Mixin for PySCF ``NumInt``: keep the AO values of the latest grid loop in memory, within a budget (MB).

    One entry only: moving to another grid (the response grid after the SCF)
    drops the previous grid's values instead of holding both.
    """

    ao_cache_mb = 0.0

    def block_loop(self, mol, grids, nao=None, deriv=0, max_memory=2000, non0tab=None, blksize=None, buf=None):
        key = (id(mol), id(grids), None if grids.coords is None else grids.coords.shape, deriv, nao)
        cached = self.__dict__.get("_ao_cache")
        if cached is not None and cached[0] == key:
            yield from cached[1]
            return
        self.__dict__["_ao_cache"] = None
        blocks, used, complete = [], 0.0, True
        for ao, mask, weight, coords in super().block_loop(mol, grids, nao, deriv, max_memory, non0tab, blksize, buf):
            if complete and used + ao.nbytes / 1e6 <= self.ao_cache_mb:
                ao = np.array(ao, copy=True)
                used += ao.nbytes / 1e6
                blocks.append((ao, mask, weight, coords))
            else:
                complete = False
            yield ao, mask, weight, coords
        if complete and blocks:
            self.__dict__["_ao_cache"] = (key, blocks)


def _cache_ao_values(mf, budget_mb: float) -> None:
    """Make ``mf`` keep the AO values of its latest grid in memory, within ``budget_mb`` (:class:`_CachedNumInt`)."""
    from pyscf.dft import numint

    cls = type("CachedNumInt", (_CachedNumInt, numint.NumInt), {"ao_cache_mb": float(budget_mb)})
    mf._numint = cls()


def _eri_mb(nao: int) -> float:
    """Memory of one 8-fold-symmetric ERI array, MB."""
    return nao**4 / 8 * 8 / 1e6


class _LongRangeIncore:
    """Mixin for PySCF SCF classes: contract stored long-range integrals for ``get_jk(omega=...)``.

    PySCF keeps the full-range integrals in memory when they fit but
    recomputes the erf-attenuated ones of a range-separated functional from
    scratch at every call. A method, not an instance attribute: a closure
    stored on the object would tie it into a reference cycle, keeping its
    integrals alive until Python's next full collection.
    """

    def get_jk(self, mol=None, dm=None, hermi=1, with_j=True, with_k=True, omega=None):
        if not omega:
            return super().get_jk(mol, dm, hermi, with_j, with_k, omega)
        from pyscf.scf import hf

        store = self._qdlib_eri_lr
        if omega not in store:
            with self.mol.with_range_coulomb(omega):
                store[omega] = self.mol.intor("int2e", aosym="s8")
        if dm is None:
            dm = self.make_rdm1()
        return hf.dot_eri_dm(store[omega], dm, hermi, with_j, with_k)


def _keep_integrals_in_memory(mf, max_memory_mb: float) -> None:
    """Make ``mf`` store its full-range and long-range integrals when they fit (:class:`_LongRangeIncore`)."""
    from pyscf import lib

    need_mb = 2 * _eri_mb(mf.mol.nao_nr())  # full-range and long-range
    mf.mol.incore_anyway = need_mb < max_memory_mb  # PySCF's own switch for the full-range ones
    if need_mb > max_memory_mb:
        log.info("long-range ERIs do not fit in %s MB: direct algorithm", max_memory_mb)
        return
    mf._qdlib_eri_lr = {}
    lib.set_class(mf, (_LongRangeIncore, type(mf)))


def _drop_caches(mf) -> None:
    """Free what an SCF object holds for speed: stored integrals, AO values on the grid.

    The object stays usable (PySCF rebuilds what it needs). Called at the end of
    every relaxation step, so a caller that keeps the returned SCF object (for its
    density) does not keep gigabytes of integrals and grid values with it.
    """
    mf._eri = None
    getattr(mf, "_qdlib_eri_lr", {}).clear()
    numint = getattr(mf, "_numint", None)
    if numint is not None:
        numint.__dict__.pop("_ao_cache", None)


def _cached_mb(mf) -> float:
    """Memory an SCF object holds for speed (stored integrals, AO values on the grid), MB."""
    arrays = [getattr(mf, "_eri", None), *getattr(mf, "_qdlib_eri_lr", {}).values()]
    cached = getattr(getattr(mf, "_numint", None), "__dict__", {}).get("_ao_cache")
    if cached is not None:
        arrays += [ao for ao, *_ in cached[1]]
    return sum(np.asarray(a).nbytes for a in arrays if a is not None) / 1e6


class _OVBasis:
    """Occupied–virtual blocks of linear-response densities and potentials.

    Inside linear response every density is ``C_o X C_v^T + C_v Y C_o^T``,
    and only the occupied–virtual blocks of the potentials it produces are
    used (the response vectors live in that space). This class maps AO
    densities to those blocks and blocks back to AO matrices.
    """

    def __init__(self, mf):
        c, occ = _to_numpy(mf.mo_coeff), _to_numpy(mf.mo_occ)
        self.co, self.cv = c[:, occ > 0], c[:, occ == 0]
        self.sc = _to_numpy(mf.get_ovlp()) @ c  # C^T S (C M C^T) S C = M
        self.nocc, self.nvir = self.co.shape[1], self.cv.shape[1]

    def blocks(self, dm):
        """(D_ov, D_vo) of AO densities, each ``(n, nocc*nvir)``, or ``None`` if they have oo/vv parts."""
        dm = np.asarray(dm)
        mo = self.sc.T @ dm.reshape(-1, *dm.shape[-2:]) @ self.sc
        no = self.nocc
        d_ov, d_vo = mo[:, :no, no:], mo[:, no:, :no].transpose(0, 2, 1)
        rest = np.abs(mo[:, :no, :no]).max() + np.abs(mo[:, no:, no:]).max()
        if rest > 1e-10 * max(1.0, np.abs(mo).max()):
            return None
        return d_ov.reshape(len(mo), -1), d_vo.reshape(len(mo), -1)

    def to_ao(self, v_ov, v_vo, shape):
        """AO matrices whose MO representation has the given ov and vo blocks (zero oo, vv)."""
        no, nv = self.nocc, self.nvir
        n = len(v_ov)
        v = np.zeros((n, no + nv, no + nv))
        v[:, :no, no:] = v_ov.reshape(n, no, nv)
        v[:, no:, :no] = v_vo.reshape(n, no, nv).transpose(0, 2, 1)
        return (self.sc @ v @ self.sc.T).reshape(shape)


class _MOSpaceJK:
    """J and K of occupied–virtual transition densities from stored MO-basis integrals.

    Their ov/vo blocks follow from two MO-integral tensors, ``(ia|jb)`` and
    ``(ij|ab)``, by matrix products (one set per range of the Coulomb
    operator). Exact: a density with any occupied–occupied or
    virtual–virtual part goes to the original AO routine instead.
    """

    def __init__(self, basis: _OVBasis, eri_by_omega: dict):
        from pyscf import ao2mo

        self.basis = basis
        co, cv, no, nv = basis.co, basis.cv, basis.nocc, basis.nvir
        self.tensors = {}
        for omega, eri in eri_by_omega.items():
            ovov = ao2mo.incore.general(eri, (co, cv, co, cv), compact=False)
            oovv = ao2mo.incore.general(eri, (co, co, cv, cv), compact=False)
            ovov = ovov.reshape(no * nv, no * nv)
            # (ij|ab) as a matrix over (ia),(jb); and (ib|ja) likewise
            oovv = oovv.reshape(no, no, nv, nv).transpose(0, 2, 1, 3).reshape(no * nv, no * nv)
            ibja = ovov.reshape(no, nv, no, nv).transpose(0, 3, 2, 1).reshape(no * nv, no * nv)
            self.tensors[omega] = (ovov, np.ascontiguousarray(oovv), np.ascontiguousarray(ibja))
        self.omegas = list(self.tensors)

    def close(self) -> None:
        self.tensors.clear()

    def jk(self, omega, d_ov, d_vo, with_j, with_k, shape):
        ovov, oovv, ibja = self.tensors[omega]
        vj = vk = None
        if with_j:
            j = (d_ov + d_vo) @ ovov  # (ia|jb) symmetric in (ia)<->(jb)
            vj = self.basis.to_ao(j, j, shape)
        if with_k:
            k_ov = d_ov @ oovv.T + d_vo @ ibja.T
            k_vo = d_ov @ ibja + d_vo @ oovv
            vk = self.basis.to_ao(k_ov, k_vo, shape)
        return vj, vk


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _DiskMOSpaceJK:
    """:class:`_MOSpaceJK` for systems whose AO integrals do not fit in memory.

    Without stored AO integrals, every response iteration recomputes all
    two-electron integrals (PySCF's direct algorithm: 160 s for a single
    trial vector of the 390-function Cd15Se12Te3 on 2 cores). Here the MO-basis
    ``(ia|jb)`` and ``(ij|ab)`` are computed once per Coulomb range by
    PySCF's out-of-core transformation (:func:`pyscf.ao2mo.outcore.general`)
    into a scratch HDF5 file, and each iteration streams them from disk:
    ``(ia|jb)`` in blocks of occupied rows, which also give ``(ib|ja)``, and
    ``(ij|ab)`` with both pairs packed (real orbitals). Same integrals, same
    products, same numbers to rounding.
    """

    row_block_mb = 512  # integrals read per step

    def __init__(self, basis: _OVBasis, mol, omegas, max_memory_mb: float, scratch: str):
        import tempfile

        from pyscf import ao2mo

        self.basis = basis
        co, cv = basis.co, basis.cv
        self.remove_stale(scratch)
        fd, self.path = tempfile.mkstemp(suffix=".h5", prefix=f"{self.prefix}{platform.node()}_{os.getpid()}_", dir=scratch)
        os.close(fd)
        self.omegas = []
        try:
            for omega in omegas:
                t0 = time.perf_counter()
                with mol.with_range_coulomb(omega or 0.0):
                    ao2mo.outcore.general(mol, (co, cv, co, cv), self.path, dataname=f"ovov/{omega or 0.0}",
                                          max_memory=max_memory_mb, compact=False)  # fmt: skip
                    ao2mo.outcore.general(mol, (co, co, cv, cv), self.path, dataname=f"oovv/{omega or 0.0}",
                                          max_memory=max_memory_mb, compact=True)  # fmt: skip
                self.omegas.append(omega or None)
                log.info("MO-space integrals (omega=%s) on disk in %.0f s", omega or 0.0, time.perf_counter() - t0)
        except BaseException:
            self.close()
            raise

    prefix = "qdlib_mo_eri_"  # then host, process id, random part

    @classmethod
    def remove_stale(cls, scratch: str) -> list[str]:
        """Delete scratch files left by killed processes of this host; returns their paths."""
        import glob

        stale = []
        for path in glob.glob(os.path.join(scratch, f"{cls.prefix}{platform.node()}_*.h5")):
            pid = os.path.basename(path)[len(cls.prefix) + len(platform.node()) + 1 :].split("_")[0]
            if not pid.isdigit() or _process_alive(int(pid)):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
                stale.append(path)
                log.info("removed %s, left by a stopped process", path)
        return stale

    @staticmethod
    def disk_mb(nocc: int, nvir: int, nao: int, n_omega: int) -> float:
        """Scratch disk needed: the stored tensors plus PySCF's half-transformed swap file, MB."""
        ov = nocc * nvir
        stored = ov * ov + nocc * (nocc + 1) // 2 * (nvir * (nvir + 1) // 2)
        return (n_omega * stored + ov * nao * (nao + 1) // 2) * 8 / 1e6

    def close(self) -> None:
        if os.path.exists(self.path):
            os.remove(self.path)

    def jk(self, omega, d_ov, d_vo, with_j, with_k, shape):
        import h5py
        from pyscf import lib

        no, nv = self.basis.nocc, self.basis.nvir
        n, key = len(d_ov), f"{omega or 0.0}"
        x, y = d_ov.reshape(n, no, nv), d_vo.reshape(n, no, nv)
        j = np.zeros((n, no * nv)) if with_j else None
        k_ov = np.zeros((n, no, nv)) if with_k else None
        k_vo = np.zeros((n, no, nv)) if with_k else None
        with h5py.File(self.path, "r") as f:
            ovov = f[f"ovov/{key}"]
            s = (x + y).reshape(n, -1)
            y_bj = y.transpose(0, 2, 1).reshape(n, nv * no)  # y[n, j, b] ordered as (b, j)
            x_ain = x.transpose(1, 2, 0)  # (i, a, n)
            step = max(1, int(self.row_block_mb * 1e6 / (8 * nv * no * nv)))
            for i0 in range(0, no, step):
                i1 = min(no, i0 + step)
                rows = ovov[i0 * nv : i1 * nv]  # (ia|jb) for i in [i0, i1)
                if with_j:
                    j[:, i0 * nv : i1 * nv] = s @ rows.T
                if with_k:  # (ib|ja) = r[i, (b, j), a]: matrix products on views, no copies of the block
                    r = rows.reshape(i1 - i0, nv * no, nv)
                    k_ov[:, i0:i1] += np.matmul(y_bj, r).transpose(1, 0, 2)
                    k_vo += np.matmul(r, x_ain[i0:i1]).sum(axis=0).reshape(nv, no, n).transpose(2, 1, 0)
            if with_k:  # (ij|ab), both pairs packed in PySCF's order: pairs (i, 0..i) follow each other
                oovv = f[f"oovv/{key}"]
                z = np.concatenate([x, y]).transpose(1, 0, 2)  # (no, 2n, nv)
                out = np.zeros_like(z)
                for i in range(no):
                    p0 = i * (i + 1) // 2
                    m = lib.unpack_tril(oovv[p0 : p0 + i + 1])  # (ij|ab) for j = 0..i, symmetric in a, b
                    out[i] += np.tensordot(z[: i + 1], m, axes=([0, 2], [0, 1]))  # sum over j, b
                    out[:i] += np.matmul(z[i], m[:i])  # (ji|ab) = (ij|ab)
                out = out.transpose(1, 0, 2)
                k_ov += out[:n]
                k_vo += out[n:]
        vj = None if j is None else self.basis.to_ao(j, j, shape)
        vk = None if k_ov is None else self.basis.to_ao(k_ov.reshape(n, -1), k_vo.reshape(n, -1), shape)
        return vj, vk


class _MOSpaceFxc:
    """The exchange-correlation kernel of the response, contracted in the occupied–virtual space.

    PySCF contracts the kernel in the AO basis, once per trial vector and
    grid block: ``rho1 = sum_uv D_uv phi_u phi_v`` and
    ``V_uv = sum_g w f phi_u phi_v`` (with gradients for GGAs), about
    ``n_ao**2`` work per grid point and vector. With the occupied and
    virtual orbitals tabulated on the grid once, the same two steps need
    only the ov block, ``n_occ * n_vir`` work, done for all trial vectors in
    one matrix product per grid chunk. Same grid, same kernel, same
    numbers to rounding.
    """

    chunk = 256  # grid points per step: keeps the per-point work in cache (measured fastest)

    def __init__(self, basis: _OVBasis, mf, grids, xctype: str):
        self.grids = grids
        deriv = 0 if xctype == "LDA" else 1
        ni, mol = mf._numint, mf.mol
        po, pv = [], []
        for ao, _mask, _weight, _coords in ni.block_loop(mol, grids, mol.nao_nr(), deriv):
            ao = ao.reshape(-1, *ao.shape[-2:])  # (ncomp, ngrid, nao)
            po.append(ao @ basis.co)
            pv.append(ao @ basis.cv)
        self.phi_o = np.concatenate(po, axis=1)  # (ncomp, ngrid, nocc)
        self.phi_v = np.concatenate(pv, axis=1)
        self.weights = np.asarray(grids.weights)

    @staticmethod
    def memory_mb(grids, nmo: int, xctype: str) -> float:
        """Memory of the orbital tables, MB."""
        return (1 if xctype == "LDA" else 4) * grids.weights.size * nmo * 8 / 1e6

    def contract(self, z, fxc):
        """ov blocks of the kernel potentials of symmetrised ov densities ``z`` (n, nocc, nvir)."""
        po, pv, w = self.phi_o, self.phi_v, self.weights
        n, no, nv = z.shape
        zt = z.transpose(2, 0, 1).reshape(nv, n * no)
        out = np.zeros((n, no, nv))
        for p0 in range(0, w.size, self.chunk):
            sl = slice(p0, p0 + self.chunk)
            o, v, f = po[:, sl], pv[:, sl], fxc[:, :, sl]
            ncomp, g = o.shape[0], o.shape[1]
            q = (v.reshape(ncomp * g, nv) @ zt).reshape(ncomp, g, n, no)  # sum_a z_ia phi_a^(x)
            rho1 = np.empty((n, ncomp, g))
            rho1[:, 0] = np.einsum("gno,go->ng", q[0], o[0])
            for k in range(1, ncomp):
                rho1[:, k] = np.einsum("gno,go->ng", q[k], o[0]) + np.einsum("gno,go->ng", q[0], o[k])
            wv = np.einsum("nyg,xyg,g->nxg", rho1, f, w[sl])
            a = wv[:, 0, :, None] * o[0]  # V_ia = sum_g a_gi phi_a + phi_i b_ga
            for k in range(1, ncomp):
                a += wv[:, k, :, None] * o[k]
            out += np.matmul(a.transpose(0, 2, 1), v[0])
            if ncomp > 1:
                b = wv[:, 1, :, None] * v[1]
                for k in range(2, ncomp):
                    b += wv[:, k, :, None] * v[k]
                out += np.matmul(o[0].T, b)
        return out


@contextlib.contextmanager
def _mo_space_response(mf, options: EngineOptions):
    """Within the block, the response's J/K and XC kernel work in the occupied–virtual space (when they fit).

    Densities with occupied–occupied or virtual–virtual parts, grids other
    than the response grid and meta-GGAs go to PySCF's own routines.
    """
    if not (options.mo_space_jk or options.mo_space_xc):
        yield
        return
    basis = _OVBasis(mf)
    no, nv = basis.nocc, basis.nvir
    budget = 0.5 * options.max_memory_mb
    original_jk = mf.get_jk
    own_jk = "get_jk" in mf.__dict__  # restore exactly: a bound method left on the instance would be a reference cycle
    ni = getattr(mf, "_numint", None)
    patched_fxc = False

    eris = {None: getattr(mf, "_eri", None), **getattr(mf, "_qdlib_eri_lr", {})}
    jk_fits = 3 * len(eris) * (no * nv) ** 2 * 8 / 1e6 <= budget
    fitted = getattr(mf, "with_df", None) is not None
    mo = None
    if options.mo_space_jk and eris[None] is not None and not fitted and jk_fits:
        mo = _MOSpaceJK(basis, eris)
    elif options.mo_space_jk and eris[None] is None and not fitted and options.mo_space_disk:
        from pyscf import lib

        omega_lr = ni.rsh_and_hybrid_coeff(mf.xc)[0] if ni is not None else 0.0
        omegas = [None] + ([omega_lr] if omega_lr else [])
        need = _DiskMOSpaceJK.disk_mb(no, nv, mf.mol.nao_nr(), len(omegas))
        free = shutil.disk_usage(lib.param.TMPDIR).free / 1e6
        if need < 0.9 * free:
            mo = _DiskMOSpaceJK(basis, mf.mol, omegas, options.max_memory_mb, lib.param.TMPDIR)
        else:
            log.info("MO-space integrals need %.0f MB of disk, %s has %.0f MB: direct algorithm", need,
                     lib.param.TMPDIR, free)  # fmt: skip
    elif options.mo_space_jk:
        log.info("MO-space J/K not used (density fitting, or over %.0f MB)", budget)
    if mo is not None:

        def get_jk(mol=None, dm=None, hermi=1, with_j=True, with_k=True, omega=None):
            key = omega or None
            blocks = basis.blocks(dm) if dm is not None and key in mo.omegas else None
            if blocks is None:
                return original_jk(mol, dm, hermi, with_j, with_k, omega)
            return mo.jk(key, *blocks, with_j, with_k, np.shape(dm))

        mf.get_jk = get_jk

    xctype = ni._xc_type(mf.xc) if ni is not None else None
    if options.mo_space_xc and xctype in ("LDA", "GGA") and hasattr(ni, "nr_rks_fxc"):
        need = _MOSpaceFxc.memory_mb(mf.grids, no + nv, xctype)
        if need <= budget:
            fx = _MOSpaceFxc(basis, mf, mf.grids, xctype)
            original_fxc = ni.nr_rks_fxc

            def nr_rks_fxc(mol, grids, xc_code, dm0, dms, relativity=0, hermi=0, rho0=None, vxc=None, fxc=None,
                           max_memory=2000, verbose=None):  # fmt: skip
                blocks = basis.blocks(dms) if fxc is not None and grids is fx.grids else None
                if blocks is None:
                    return original_fxc(mol, grids, xc_code, dm0, dms, relativity, hermi, rho0, vxc, fxc, max_memory, verbose)
                z = (blocks[0] + blocks[1]).reshape(-1, no, nv)  # the symmetric part carries the density
                v = fx.contract(z, np.asarray(fxc))
                return basis.to_ao(v.reshape(len(v), -1), v.reshape(len(v), -1), np.shape(dms))

            ni.nr_rks_fxc = nr_rks_fxc
            patched_fxc = True
        else:
            log.info("MO-space XC kernel needs %.0f MB: AO algorithm", need)
    try:
        yield
    finally:
        if own_jk:
            mf.get_jk = original_jk
        else:
            mf.__dict__.pop("get_jk", None)
        if mo is not None:
            mo.close()
        if patched_fxc:
            del ni.nr_rks_fxc
