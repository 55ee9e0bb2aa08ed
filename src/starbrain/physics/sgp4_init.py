"""SGP4 element sets and their initialisation: mean elements -> per-satellite coefficient tensors.

This is the vectorised counterpart of ``sgp4init``/``initl`` in Vallado, Crawford, Hujsak & Kelso
(2006), "Revisiting Spacetrack Report #3", AIAA 2006-6753, with WGS-72 constants and the
"improved" operation mode (``opsmode='i'``), which is what the published verification vectors use.

Everything here works on 1-D tensors of shape ``(n_sat,)`` in float64 and is differentiable with
respect to the elements: branches are taken per satellite with ``torch.where`` and the inputs of an
untaken branch are kept finite so that gradients stay finite too.

Units inside SGP4 (and in :class:`Sgp4Elements`): angles in radians, mean motion in rad/min,
B* in 1/earth-radii, epochs as split Julian dates (UTC). Degrees and rev/day only appear at the
edges, in :meth:`Sgp4Elements.from_table`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch
from torch import Tensor

from starbrain.core import timeconv
from starbrain.core.constants import (
    WGS72_J2,
    WGS72_J3,
    WGS72_J4,
    WGS72_MU_KM3_S2,
    WGS72_RADIUS_KM,
    WGS72_XKE_PER_MIN,
)
from starbrain.physics import sgp4_deep

__all__ = [
    "J2",
    "J3OJ2",
    "J4",
    "MU_KM3_S2",
    "RADIUS_EARTH_KM",
    "XKE",
    "Sgp4Coeffs",
    "Sgp4Elements",
    "Sgp4State",
    "resolve_device",
    "sgp4_init",
]

# WGS-72 constants, computed exactly as getgravconst('wgs72') does.
MU_KM3_S2 = WGS72_MU_KM3_S2
RADIUS_EARTH_KM = WGS72_RADIUS_KM
XKE = WGS72_XKE_PER_MIN  # 1/min
TUMIN = 1.0 / XKE
J2 = WGS72_J2
J3 = WGS72_J3
J4 = WGS72_J4
J3OJ2 = J3 / J2
X2O3 = 2.0 / 3.0
TWOPI = 2.0 * math.pi
JD_1950 = 2433281.5  # SGP4's epoch origin: 1949 December 31 00:00 UT
XPDOTP = 1440.0 / TWOPI  # rev/day per rad/min
DEEP_SPACE_PERIOD_MIN = 225.0
# Guard used by the reference code against division by 1 + cos(i) at i = 180 deg.
_TEMP4 = 1.5e-12


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to compute on: ``device`` when given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _as_tensor(x: npt.ArrayLike | Tensor, device: torch.device) -> Tensor:
    if isinstance(x, Tensor):
        return x.to(device=device, dtype=torch.float64)
    return torch.tensor(np.asarray(x, dtype=np.float64), device=device)


@dataclass(frozen=True)
class Sgp4Elements:
    """SGP4 mean elements of ``n_sat`` satellites, each a float64 tensor of shape ``(n_sat,)``.

    Attributes (SGP4 units): ``bstar`` [1/earth radii], ``ndot`` [rad/min^2] and ``nddot``
    [rad/min^3] (carried, not used by SGP4), ``ecco`` [-], ``argpo``, ``inclo``, ``mo``, ``nodeo``
    [rad], ``no_kozai`` (Kozai mean motion) [rad/min], ``jdsatepoch`` + ``jdsatepochF`` the epoch
    as a split Julian date (UTC). Tensors may require grad; gradients flow through propagation.
    """

    bstar: Tensor
    ndot: Tensor
    nddot: Tensor
    ecco: Tensor
    argpo: Tensor
    inclo: Tensor
    mo: Tensor
    no_kozai: Tensor
    nodeo: Tensor
    jdsatepoch: Tensor
    jdsatepochF: Tensor

    def __post_init__(self) -> None:
        shapes = {f.name: tuple(getattr(self, f.name).shape) for f in fields(self)}
        if len(set(shapes.values())) != 1 or len(next(iter(shapes.values()))) != 1:
            raise ValueError(f"every element must be a 1-D tensor of the same length, got {shapes}")

    def __len__(self) -> int:
        return int(self.ecco.shape[0])

    @property
    def device(self) -> torch.device:
        return self.ecco.device

    def to(self, device: str | torch.device) -> Sgp4Elements:
        """The same elements on another device."""
        return Sgp4Elements(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @classmethod
    def from_arrays(
        cls,
        *,
        bstar: npt.ArrayLike | Tensor,
        ecco: npt.ArrayLike | Tensor,
        argpo: npt.ArrayLike | Tensor,
        inclo: npt.ArrayLike | Tensor,
        mo: npt.ArrayLike | Tensor,
        no_kozai: npt.ArrayLike | Tensor,
        nodeo: npt.ArrayLike | Tensor,
        jdsatepoch: npt.ArrayLike | Tensor,
        jdsatepochF: npt.ArrayLike | Tensor,
        ndot: npt.ArrayLike | Tensor = 0.0,
        nddot: npt.ArrayLike | Tensor = 0.0,
        device: str | torch.device | None = None,
    ) -> Sgp4Elements:
        """Elements from arrays already in SGP4 units (radians, rad/min, split Julian dates).

        Scalars are broadcast to the common length. Tensors keep their autograd history.
        """
        dev = resolve_device(device)
        raw = {
            "bstar": bstar, "ndot": ndot, "nddot": nddot, "ecco": ecco, "argpo": argpo,
            "inclo": inclo, "mo": mo, "no_kozai": no_kozai, "nodeo": nodeo,
            "jdsatepoch": jdsatepoch, "jdsatepochF": jdsatepochF,
        }  # fmt: skip
        ts = {k: _as_tensor(v, dev) for k, v in raw.items()}
        n = max(int(t.reshape(-1).shape[0]) for t in ts.values())
        out = {}
        for k, t in ts.items():
            if t.ndim == 0 or t.numel() == 1:
                t = t.reshape(1).expand(n)
            out[k] = t
        return cls(**out)

    @classmethod
    def from_table(cls, table: pa.Table, device: str | torch.device | None = None) -> Sgp4Elements:
        """Elements from an ``ELEMENTS_SCHEMA`` table (degrees, rev/day, UTC epochs).

        Degrees become radians, rev/day becomes rad/min and the epoch becomes a split Julian date
        through :func:`starbrain.timeconv.datetime64_to_jd`. Missing ndot/nddot count as zero.
        """

        def col(name: str) -> npt.NDArray[np.float64]:
            return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)

        def col_or_zero(name: str) -> npt.NDArray[np.float64]:
            if name not in table.column_names:
                return np.zeros(table.num_rows)
            return np.nan_to_num(col(name), nan=0.0)

        epoch = table.column("epoch").to_numpy(zero_copy_only=False)
        epoch = np.asarray(epoch).astype("datetime64[ns]")
        jd, fr = timeconv.datetime64_to_jd(epoch)
        deg = math.pi / 180.0
        return cls.from_arrays(
            bstar=col("bstar_per_earth_radius"),
            ndot=col_or_zero("mean_motion_dot_rev_per_day2") / (XPDOTP * 1440.0),
            nddot=col_or_zero("mean_motion_ddot_rev_per_day3") / (XPDOTP * 1440.0 * 1440.0),
            ecco=col("eccentricity"),
            argpo=col("arg_of_pericenter_deg") * deg,
            inclo=col("inclination_deg") * deg,
            mo=col("mean_anomaly_deg") * deg,
            no_kozai=col("mean_motion_rev_per_day") / XPDOTP,
            nodeo=col("ra_of_asc_node_deg") * deg,
            jdsatepoch=jd,
            jdsatepochF=fr,
            device=device,
        )

    @classmethod
    def from_satrecs(cls, satrecs: list, device: str | torch.device | None = None) -> Sgp4Elements:
        """Elements copied from python-sgp4 ``Satrec`` objects (already in SGP4 units)."""
        names = [f.name for f in fields(cls)]
        cols = {k: np.array([getattr(s, k) for s in satrecs], dtype=np.float64) for k in names}
        return cls.from_arrays(**cols, device=device)


@dataclass
class Sgp4Coeffs:
    """Per-satellite SGP4 coefficients for one group of satellites, each a tensor ``(n,)``.

    Fields follow the names of the reference implementation. For satellites on the simplified
    drag model (perigee below 220 km, and all deep-space satellites) the higher-order drag
    coefficients are zero, which makes the full near-earth drag update reduce exactly to the
    simplified one.
    """

    no_unkozai: Tensor  # Brouwer mean motion [rad/min]
    ecco: Tensor
    inclo: Tensor
    nodeo: Tensor
    argpo: Tensor
    mo: Tensor
    mdot: Tensor
    argpdot: Tensor
    nodedot: Tensor
    nodecf: Tensor
    cc1: Tensor
    bstar_cc4: Tensor
    bstar_cc5: Tensor  # zero on the simplified model
    t2cof: Tensor
    omgcof: Tensor  # zero on the simplified model
    xmcof: Tensor  # zero on the simplified model
    eta: Tensor
    delmo: Tensor
    sinmao: Tensor
    d2: Tensor
    d3: Tensor
    d4: Tensor
    t3cof: Tensor
    t4cof: Tensor
    t5cof: Tensor
    a0: Tensor  # (xke / no_unkozai)^(2/3): semi-major axis before the drag factor [earth radii]
    sinio: Tensor
    cosio: Tensor
    con41: Tensor
    x1mth2: Tensor
    x7thm1: Tensor
    xlcof: Tensor
    aycof: Tensor

    def select(self, index: Tensor | slice) -> Sgp4Coeffs:
        """The coefficients of a subset of the satellites."""
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass
class Sgp4State:
    """Initialised SGP4 state of ``n_sat`` satellites, ready for :func:`sgp4_propagate`.

    Satellites are split into a near-earth group (period < 225 min) and a deep-space group
    (SDP4); ``near_index``/``deep_index`` give their positions in the input order, and
    ``near``/``deep`` their coefficients (``None`` for an empty group). ``deep_terms`` holds the
    lunar-solar and resonance coefficients of the deep-space group.
    """

    n_sat: int
    jdsatepoch: Tensor  # (n_sat,)
    jdsatepochF: Tensor  # (n_sat,)
    near_index: Tensor  # (n_near,) int64
    deep_index: Tensor  # (n_deep,) int64
    near: Sgp4Coeffs | None
    deep: Sgp4Coeffs | None
    deep_terms: sgp4_deep.DeepCoeffs | None

    @property
    def device(self) -> torch.device:
        return self.jdsatepoch.device

    def select(self, index: Tensor | npt.ArrayLike) -> Sgp4State:
        """The state of the satellites ``index`` (integers, repeats allowed), in that order,
        without re-running :func:`sgp4_init`; propagating it gives the same numbers."""
        idx = torch.as_tensor(np.asarray(index), dtype=torch.int64, device=self.device).reshape(-1)
        groups = []
        for g_index, coeffs in ((self.near_index, self.near), (self.deep_index, self.deep)):
            pos = torch.full((self.n_sat,), -1, dtype=torch.int64, device=self.device)
            pos[g_index] = torch.arange(g_index.numel(), device=self.device)
            p = pos[idx]
            rows = torch.nonzero(p >= 0).flatten()
            sel = p[rows]
            groups.append((rows, None if coeffs is None or not len(rows) else coeffs.select(sel)))
        (near_rows, near), (deep_rows, deep) = groups
        deep_terms = None
        if deep is not None and self.deep_terms is not None:
            pos = torch.full((self.n_sat,), -1, dtype=torch.int64, device=self.device)
            pos[self.deep_index] = torch.arange(self.deep_index.numel(), device=self.device)
            deep_terms = self.deep_terms.select(pos[idx[deep_rows]])
        return Sgp4State(
            n_sat=int(idx.numel()),
            jdsatepoch=self.jdsatepoch[idx],
            jdsatepochF=self.jdsatepochF[idx],
            near_index=near_rows,
            deep_index=deep_rows,
            near=near,
            deep=deep,
            deep_terms=deep_terms,
        )


def gstime(jdut1: Tensor) -> Tensor:
    """Greenwich mean sidereal time [rad, 0..2pi] for a UT1 Julian date (IAU-82, as SGP4 uses)."""
    tut1 = (jdut1 - 2451545.0) / 36525.0
    temp = (
        -6.2e-6 * tut1 * tut1 * tut1
        + 0.093104 * tut1 * tut1
        + (876600.0 * 3600 + 8640184.812866) * tut1
        + 67310.54841
    )  # seconds
    temp = torch.fmod(temp * (math.pi / 180.0) / 240.0, TWOPI)
    return torch.where(temp < 0.0, temp + TWOPI, temp)


def sgp4_init(elements: Sgp4Elements) -> Sgp4State:
    """Initialise SGP4/SDP4 for every satellite of ``elements`` (on the elements' device).

    The computation is that of the reference ``sgp4init`` (WGS-72, opsmode 'i'); deep-space
    satellites (period >= 225 min) also get their lunar-solar and resonance terms from
    :func:`starbrain.physics.sgp4_deep.deep_init`. Invalid elements are not rejected here: like
    the reference, they surface as per-time error codes from :func:`sgp4_propagate`.
    """
    el = elements
    ecco, inclo, no_kozai, bstar = el.ecco, el.inclo, el.no_kozai, el.bstar
    argpo, mo, nodeo = el.argpo, el.mo, el.nodeo
    # Days since 1949 Dec 31 0h, summed in the order the reference twoline2rv uses: the
    # lunar-solar terms of very eccentric deep-space orbits notice the last bit.
    epoch = (el.jdsatepoch + el.jdsatepochF) - JD_1950

    # ---- initl: recover the Brouwer mean motion from the Kozai one ----
    eccsq = ecco * ecco
    omeosq = 1.0 - eccsq
    rteosq = torch.sqrt(omeosq)
    cosio = torch.cos(inclo)
    cosio2 = cosio * cosio
    ak = torch.pow(XKE / no_kozai, X2O3)
    d1 = 0.75 * J2 * (3.0 * cosio2 - 1.0) / (rteosq * omeosq)
    del_ = d1 / (ak * ak)
    adel = ak * (1.0 - del_ * del_ - del_ * (1.0 / 3.0 + 134.0 * del_ * del_ / 81.0))
    del_ = d1 / (adel * adel)
    no = no_kozai / (1.0 + del_)
    ao = torch.pow(XKE / no, X2O3)
    sinio = torch.sin(inclo)
    po = ao * omeosq
    con42 = 1.0 - 5.0 * cosio2
    con41 = -con42 - cosio2 - cosio2
    posq = po * po
    rp = ao * (1.0 - ecco)
    gsto = gstime(epoch + JD_1950)

    # ---- drag: perigees below 156 km get a modified atmosphere boundary s and qoms2t ----
    isimp = rp < (220.0 / RADIUS_EARTH_KM + 1.0)
    perige = (rp - 1.0) * RADIUS_EARTH_KM
    sfour_km = torch.where(
        perige < 156.0,
        torch.where(perige < 98.0, torch.full_like(perige, 20.0), perige - 78.0),
        torch.full_like(perige, 78.0),
    )
    qzms24temp = (120.0 - sfour_km) / RADIUS_EARTH_KM
    qzms24 = qzms24temp * qzms24temp * qzms24temp * qzms24temp
    sfour = sfour_km / RADIUS_EARTH_KM + 1.0
    pinvsq = 1.0 / posq

    tsi = 1.0 / (ao - sfour)
    eta = ao * ecco * tsi
    etasq = eta * eta
    eeta = ecco * eta
    psisq = torch.abs(1.0 - etasq)
    coef = qzms24 * torch.pow(tsi, 4.0)
    coef1 = coef / torch.pow(psisq, 3.5)
    cc2 = (
        coef1
        * no
        * (
            ao * (1.0 + 1.5 * etasq + eeta * (4.0 + etasq))
            + 0.375 * J2 * tsi / psisq * con41 * (8.0 + 3.0 * etasq * (8.0 + etasq))
        )
    )
    cc1 = bstar * cc2
    eccentric = ecco > 1.0e-4
    ecco_safe = torch.where(eccentric, ecco, torch.ones_like(ecco))
    eeta_safe = torch.where(eccentric, eeta, torch.ones_like(eeta))
    cc3 = torch.where(
        eccentric, -2.0 * coef * tsi * J3OJ2 * no * sinio / ecco_safe, torch.zeros_like(ecco)
    )
    x1mth2 = 1.0 - cosio2
    cc4 = (
        2.0
        * no
        * coef1
        * ao
        * omeosq
        * (
            eta * (2.0 + 0.5 * etasq)
            + ecco * (0.5 + 2.0 * etasq)
            - J2
            * tsi
            / (ao * psisq)
            * (
                -3.0 * con41 * (1.0 - 2.0 * eeta + etasq * (1.5 - 0.5 * eeta))
                + 0.75 * x1mth2 * (2.0 * etasq - eeta * (1.0 + etasq)) * torch.cos(2.0 * argpo)
            )
        )
    )
    cc5 = 2.0 * coef1 * ao * omeosq * (1.0 + 2.75 * (etasq + eeta) + eeta * etasq)

    # ---- secular rates from J2 and J4 ----
    cosio4 = cosio2 * cosio2
    temp1 = 1.5 * J2 * pinvsq * no
    temp2 = 0.5 * temp1 * J2 * pinvsq
    temp3 = -0.46875 * J4 * pinvsq * pinvsq * no
    mdot = (
        no
        + 0.5 * temp1 * rteosq * con41
        + 0.0625 * temp2 * rteosq * (13.0 - 78.0 * cosio2 + 137.0 * cosio4)
    )
    argpdot = (
        -0.5 * temp1 * con42
        + 0.0625 * temp2 * (7.0 - 114.0 * cosio2 + 395.0 * cosio4)
        + temp3 * (3.0 - 36.0 * cosio2 + 49.0 * cosio4)
    )
    xhdot1 = -temp1 * cosio
    nodedot = (
        xhdot1 + (0.5 * temp2 * (4.0 - 19.0 * cosio2) + 2.0 * temp3 * (3.0 - 7.0 * cosio2)) * cosio
    )
    xpidot = argpdot + nodedot
    omgcof = bstar * cc3 * torch.cos(argpo)
    xmcof = torch.where(eccentric, -X2O3 * coef * bstar / eeta_safe, torch.zeros_like(ecco))
    nodecf = 3.5 * omeosq * xhdot1 * cc1
    t2cof = 1.5 * cc1
    xlcof_den = torch.where(
        torch.abs(cosio + 1.0) > 1.5e-12, 1.0 + cosio, torch.full_like(cosio, _TEMP4)
    )
    xlcof = -0.25 * J3OJ2 * sinio * (3.0 + 5.0 * cosio) / xlcof_den
    aycof = -0.5 * J3OJ2 * sinio
    delmotemp = 1.0 + eta * torch.cos(mo)
    delmo = delmotemp * delmotemp * delmotemp
    sinmao = torch.sin(mo)
    x7thm1 = 7.0 * cosio2 - 1.0

    deep = (TWOPI / no) >= DEEP_SPACE_PERIOD_MIN
    simple = isimp | deep

    # ---- higher-order drag terms (full model only) ----
    cc1sq = cc1 * cc1
    d2 = 4.0 * ao * tsi * cc1sq
    temp = d2 * tsi * cc1 / 3.0
    d3 = (17.0 * ao + sfour) * temp
    d4 = 0.5 * temp * ao * tsi * (221.0 * ao + 31.0 * sfour) * cc1
    t3cof = d2 + 2.0 * cc1sq
    t4cof = 0.25 * (3.0 * d3 + cc1 * (12.0 * d2 + 10.0 * cc1sq))
    t5cof = 0.2 * (3.0 * d4 + 12.0 * cc1 * d3 + 6.0 * d2 * d2 + 15.0 * cc1sq * (2.0 * d2 + cc1sq))
    zero = torch.zeros_like(ecco)

    def full_only(x: Tensor) -> Tensor:
        return torch.where(simple, zero, x)

    coeffs = Sgp4Coeffs(
        no_unkozai=no,
        ecco=ecco,
        inclo=inclo,
        nodeo=nodeo,
        argpo=argpo,
        mo=mo,
        mdot=mdot,
        argpdot=argpdot,
        nodedot=nodedot,
        nodecf=nodecf,
        cc1=cc1,
        bstar_cc4=bstar * cc4,
        bstar_cc5=full_only(bstar * cc5),
        t2cof=t2cof,
        omgcof=full_only(omgcof),
        xmcof=full_only(xmcof),
        eta=eta,
        delmo=delmo,
        sinmao=sinmao,
        d2=full_only(d2),
        d3=full_only(d3),
        d4=full_only(d4),
        t3cof=full_only(t3cof),
        t4cof=full_only(t4cof),
        t5cof=full_only(t5cof),
        a0=torch.pow(XKE / no, X2O3),
        sinio=sinio,
        cosio=cosio,
        con41=con41,
        x1mth2=x1mth2,
        x7thm1=x7thm1,
        xlcof=xlcof,
        aycof=aycof,
    )

    deep_cpu = deep.detach().cpu()
    near_index = torch.nonzero(~deep_cpu).reshape(-1).to(ecco.device)
    deep_index = torch.nonzero(deep_cpu).reshape(-1).to(ecco.device)
    n_sat = len(el)
    near = deep_c = deep_terms = None
    if near_index.numel():
        near = coeffs if near_index.numel() == n_sat else coeffs.select(near_index)
    if deep_index.numel():
        deep_c = coeffs if deep_index.numel() == n_sat else coeffs.select(deep_index)
        i = deep_index
        deep_terms = sgp4_deep.deep_init(
            epoch=epoch[i],
            ecco=ecco[i],
            argpo=argpo[i],
            inclo=inclo[i],
            nodeo=nodeo[i],
            mo=mo[i],
            no_unkozai=no[i],
            gsto=gsto[i],
            mdot=mdot[i],
            nodedot=nodedot[i],
            xpidot=xpidot[i],
            argpdot=argpdot[i],
            xke=XKE,
        )
    return Sgp4State(
        n_sat=n_sat,
        jdsatepoch=el.jdsatepoch,
        jdsatepochF=el.jdsatepochF,
        near_index=near_index,
        deep_index=deep_index,
        near=near,
        deep=deep_c,
        deep_terms=deep_terms,
    )
