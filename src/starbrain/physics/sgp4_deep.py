"""SDP4 deep-space terms: lunar-solar secular and periodic terms and the 12 h / 24 h resonances.

Vectorised counterparts of ``dscom``/``dsinit`` (initialisation), ``dspace`` (secular terms and
the resonance integrator) and ``dpper`` (long-period lunar-solar periodics) of Vallado,
Crawford, Hujsak & Kelso (2006), AIAA 2006-6753, in the "improved" operation mode.

Initialisation works on tensors of shape ``(n,)``; propagation on coefficients shaped ``(n, 1)``
against times ``t`` [min since epoch] shaped ``(n, n_time)`` or ``(1, n_time)``. Angles are in
radians, mean motions in rad/min. Every branch is a per-element ``torch.where``.

The resonance integrator (Euler-Maclaurin, fixed 720 min steps from epoch) is evaluated once
per satellite up to the largest ``|t|`` requested, forward and backward, and each time then
picks the step it needs, which gives the same numbers as the reference's restartable loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

__all__ = ["DeepCoeffs", "deep_init", "deep_periodics", "deep_secular"]

TWOPI = 2.0 * math.pi
X2O3 = 2.0 / 3.0

# Sun and Moon
ZNS = 1.19459e-5  # solar mean motion [rad/min]
ZES = 0.01675  # solar eccentricity
ZNL = 1.5835218e-4  # lunar mean motion [rad/min]
ZEL = 0.05490  # lunar eccentricity
C1SS = 2.9864797e-6
C1L = 4.7968065e-7
ZSINIS = 0.39785416
ZCOSIS = 0.91744867
ZCOSGS = 0.1945905
ZSINGS = -0.98088458

# Geopotential resonance
Q22 = 1.7891679e-6
Q31 = 2.1460748e-6
Q33 = 2.2123015e-7
ROOT22 = 1.7891679e-6
ROOT44 = 7.3636953e-9
ROOT54 = 2.1765803e-9
ROOT32 = 3.7393792e-7
ROOT52 = 1.1428639e-7
RPTIM = 4.37526908801129966e-3  # earth rotation rate [rad/min]
FASX2 = 0.13130908
FASX4 = 2.8843198
FASX6 = 0.37448087
G22 = 5.7686396
G32 = 0.95240898
G44 = 1.8014998
G52 = 1.0508330
G54 = 4.4108898
STEP_MIN = 720.0  # integrator step [min]
STEP2 = STEP_MIN * STEP_MIN / 2.0

# Inclinations within this of 0 or 180 deg drop the node terms (reference "sgp4fix for 180 deg").
_INCL_EDGE = 5.2359877e-2


@dataclass
class DeepCoeffs:
    """Deep-space coefficients of ``n`` satellites, each a tensor of shape ``(n,)``.

    Names follow the reference code: ``e3 .. xl4`` and ``se2 .. sl4`` are lunar and solar
    periodic coefficients, ``zmol``/``zmos`` the lunar/solar mean anomalies at epoch [rad],
    ``dedt .. domdt`` secular rates [1/min, rad/min], ``irez`` the resonance class (0 none,
    1 one-day, 2 half-day), ``d2201 .. d5433`` and ``del1 .. del3`` resonance coefficients,
    ``xlamo`` [rad] and ``xfact`` [rad/min] the resonance phase and its rate offset.
    """

    e3: Tensor
    ee2: Tensor
    se2: Tensor
    se3: Tensor
    sgh2: Tensor
    sgh3: Tensor
    sgh4: Tensor
    sh2: Tensor
    sh3: Tensor
    si2: Tensor
    si3: Tensor
    sl2: Tensor
    sl3: Tensor
    sl4: Tensor
    xgh2: Tensor
    xgh3: Tensor
    xgh4: Tensor
    xh2: Tensor
    xh3: Tensor
    xi2: Tensor
    xi3: Tensor
    xl2: Tensor
    xl3: Tensor
    xl4: Tensor
    zmol: Tensor
    zmos: Tensor
    dedt: Tensor
    didt: Tensor
    dmdt: Tensor
    dnodt: Tensor
    domdt: Tensor
    irez: Tensor  # int64
    d2201: Tensor
    d2211: Tensor
    d3210: Tensor
    d3222: Tensor
    d4410: Tensor
    d4422: Tensor
    d5220: Tensor
    d5232: Tensor
    d5421: Tensor
    d5433: Tensor
    del1: Tensor
    del2: Tensor
    del3: Tensor
    xfact: Tensor
    xlamo: Tensor
    gsto: Tensor  # sidereal angle at epoch [rad]
    argpo: Tensor
    argpdot: Tensor
    no_unkozai: Tensor

    def select(self, index: Tensor | slice) -> DeepCoeffs:
        """The coefficients of a subset of the satellites."""
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def column(self) -> DeepCoeffs:
        """The same coefficients reshaped to ``(n, 1)`` for broadcasting against times."""
        return type(self)(**{f.name: getattr(self, f.name)[:, None] for f in fields(self)})


def _third_body(
    zcosg: Tensor | float,
    zsing: Tensor | float,
    zcosi: Tensor | float,
    zsini: Tensor | float,
    zcosh: Tensor,
    zsinh: Tensor,
    cc: float,
    sat: dict[str, Tensor],
) -> dict[str, Tensor]:
    """The ``s*`` and ``z*`` auxiliaries of one perturbing body (dscom's inner loop body)."""
    cosim, sinim = sat["cosim"], sat["sinim"]
    cosomm, sinomm = sat["cosomm"], sat["sinomm"]
    emsq, betasq, rtemsq = sat["emsq"], sat["betasq"], sat["rtemsq"]

    a1 = zcosg * zcosh + zsing * zcosi * zsinh
    a3 = -zsing * zcosh + zcosg * zcosi * zsinh
    a7 = -zcosg * zsinh + zsing * zcosi * zcosh
    a8 = zsing * zsini
    a9 = zsing * zsinh + zcosg * zcosi * zcosh
    a10 = zcosg * zsini
    a2 = cosim * a7 + sinim * a8
    a4 = cosim * a9 + sinim * a10
    a5 = -sinim * a7 + cosim * a8
    a6 = -sinim * a9 + cosim * a10

    x1 = a1 * cosomm + a2 * sinomm
    x2 = a3 * cosomm + a4 * sinomm
    x3 = -a1 * sinomm + a2 * cosomm
    x4 = -a3 * sinomm + a4 * cosomm
    x5 = a5 * sinomm
    x6 = a6 * sinomm
    x7 = a5 * cosomm
    x8 = a6 * cosomm

    z31 = 12.0 * x1 * x1 - 3.0 * x3 * x3
    z32 = 24.0 * x1 * x2 - 6.0 * x3 * x4
    z33 = 12.0 * x2 * x2 - 3.0 * x4 * x4
    z1 = 3.0 * (a1 * a1 + a2 * a2) + z31 * emsq
    z2 = 6.0 * (a1 * a3 + a2 * a4) + z32 * emsq
    z3 = 3.0 * (a3 * a3 + a4 * a4) + z33 * emsq
    z11 = -6.0 * a1 * a5 + emsq * (-24.0 * x1 * x7 - 6.0 * x3 * x5)
    z12 = -6.0 * (a1 * a6 + a3 * a5) + emsq * (
        -24.0 * (x2 * x7 + x1 * x8) - 6.0 * (x3 * x6 + x4 * x5)
    )
    z13 = -6.0 * a3 * a6 + emsq * (-24.0 * x2 * x8 - 6.0 * x4 * x6)
    z21 = 6.0 * a2 * a5 + emsq * (24.0 * x1 * x5 - 6.0 * x3 * x7)
    z22 = 6.0 * (a4 * a5 + a2 * a6) + emsq * (
        24.0 * (x2 * x5 + x1 * x6) - 6.0 * (x4 * x7 + x3 * x8)
    )
    z23 = 6.0 * a4 * a6 + emsq * (24.0 * x2 * x6 - 6.0 * x4 * x8)
    z1 = z1 + z1 + betasq * z31
    z2 = z2 + z2 + betasq * z32
    z3 = z3 + z3 + betasq * z33
    s3 = cc * sat["xnoi"]
    s2 = -0.5 * s3 / rtemsq
    s4 = s3 * rtemsq
    s1 = -15.0 * sat["em"] * s4
    s5 = x1 * x3 + x2 * x4
    s6 = x2 * x3 + x1 * x4
    s7 = x2 * x4 - x1 * x3
    return {
        "s1": s1, "s2": s2, "s3": s3, "s4": s4, "s5": s5, "s6": s6, "s7": s7,
        "z1": z1, "z2": z2, "z3": z3, "z11": z11, "z12": z12, "z13": z13,
        "z21": z21, "z22": z22, "z23": z23, "z31": z31, "z32": z32, "z33": z33,
    }  # fmt: skip


def deep_init(
    *,
    epoch: Tensor,
    ecco: Tensor,
    argpo: Tensor,
    inclo: Tensor,
    nodeo: Tensor,
    mo: Tensor,
    no_unkozai: Tensor,
    gsto: Tensor,
    mdot: Tensor,
    nodedot: Tensor,
    xpidot: Tensor,
    argpdot: Tensor,
    xke: float,
) -> DeepCoeffs:
    """Deep-space coefficients (reference ``dscom`` + ``dsinit`` at epoch), shapes ``(n,)``.

    ``epoch`` is in days since 1949 December 31 0h UT, ``gsto`` the sidereal angle at epoch
    [rad], rates in rad/min, ``xke`` the gravity constant of the SGP4 model [1/min].
    """
    zeros = torch.zeros_like(ecco)
    # ---- dscom: common lunar-solar quantities ----
    nm = no_unkozai
    em = ecco
    snodm = torch.sin(nodeo)
    cnodm = torch.cos(nodeo)
    sinomm = torch.sin(argpo)
    cosomm = torch.cos(argpo)
    sinim = torch.sin(inclo)
    cosim = torch.cos(inclo)
    emsq = em * em
    betasq = 1.0 - emsq
    rtemsq = torch.sqrt(betasq)

    day = epoch + 18261.5  # days since 2000 Jan 0.5 ... as the reference (tc = 0 at init)
    xnodce = torch.fmod(4.5236020 - 9.2422029e-4 * day, TWOPI)
    stem = torch.sin(xnodce)
    ctem = torch.cos(xnodce)
    zcosil = 0.91375164 - 0.03568096 * ctem
    zsinil = torch.sqrt(1.0 - zcosil * zcosil)
    zsinhl = 0.089683511 * stem / zsinil
    zcoshl = torch.sqrt(1.0 - zsinhl * zsinhl)
    gam = 5.8351514 + 0.0019443680 * day
    zx = 0.39785416 * stem / zsinil
    zy = zcoshl * ctem + 0.91744867 * zsinhl * stem
    zx = torch.atan2(zx, zy)
    zx = gam + zx - xnodce
    zcosgl = torch.cos(zx)
    zsingl = torch.sin(zx)

    sat = {
        "cosim": cosim, "sinim": sinim, "cosomm": cosomm, "sinomm": sinomm, "emsq": emsq,
        "betasq": betasq, "rtemsq": rtemsq, "em": em, "xnoi": 1.0 / nm,
    }  # fmt: skip
    sun = _third_body(ZCOSGS, ZSINGS, ZCOSIS, ZSINIS, cnodm, snodm, C1SS, sat)
    moon = _third_body(
        zcosgl,
        zsingl,
        zcosil,
        zsinil,
        zcoshl * cnodm + zsinhl * snodm,
        snodm * zcoshl - cnodm * zsinhl,
        C1L,
        sat,
    )
    zmol = torch.fmod(4.7199672 + 0.22997150 * day - gam, TWOPI)
    zmos = torch.fmod(6.2565837 + 0.017201977 * day, TWOPI) + zeros

    ss, sm = sun, moon
    periodic = {
        "se2": 2.0 * ss["s1"] * ss["s6"],
        "se3": 2.0 * ss["s1"] * ss["s7"],
        "si2": 2.0 * ss["s2"] * ss["z12"],
        "si3": 2.0 * ss["s2"] * (ss["z13"] - ss["z11"]),
        "sl2": -2.0 * ss["s3"] * ss["z2"],
        "sl3": -2.0 * ss["s3"] * (ss["z3"] - ss["z1"]),
        "sl4": -2.0 * ss["s3"] * (-21.0 - 9.0 * emsq) * ZES,
        "sgh2": 2.0 * ss["s4"] * ss["z32"],
        "sgh3": 2.0 * ss["s4"] * (ss["z33"] - ss["z31"]),
        "sgh4": -18.0 * ss["s4"] * ZES,
        "sh2": -2.0 * ss["s2"] * ss["z22"],
        "sh3": -2.0 * ss["s2"] * (ss["z23"] - ss["z21"]),
        "ee2": 2.0 * sm["s1"] * sm["s6"],
        "e3": 2.0 * sm["s1"] * sm["s7"],
        "xi2": 2.0 * sm["s2"] * sm["z12"],
        "xi3": 2.0 * sm["s2"] * (sm["z13"] - sm["z11"]),
        "xl2": -2.0 * sm["s3"] * sm["z2"],
        "xl3": -2.0 * sm["s3"] * (sm["z3"] - sm["z1"]),
        "xl4": -2.0 * sm["s3"] * (-21.0 - 9.0 * emsq) * ZEL,
        "xgh2": 2.0 * sm["s4"] * sm["z32"],
        "xgh3": 2.0 * sm["s4"] * (sm["z33"] - sm["z31"]),
        "xgh4": -18.0 * sm["s4"] * ZEL,
        "xh2": -2.0 * sm["s2"] * sm["z22"],
        "xh3": -2.0 * sm["s2"] * (sm["z23"] - sm["z21"]),
    }
    # (dpper at init only evaluates, it does not change the elements.)

    # ---- dsinit: secular rates ----
    irez = torch.zeros_like(ecco, dtype=torch.int64)
    irez = torch.where((nm > 0.0034906585) & (nm < 0.0052359877), 1, irez)
    irez = torch.where((nm >= 8.26e-3) & (nm <= 9.24e-3) & (em >= 0.5), 2, irez)

    edge = (inclo < _INCL_EDGE) | (inclo > math.pi - _INCL_EDGE)
    has_sin = sinim != 0.0
    sinim_safe = torch.where(has_sin, sinim, torch.ones_like(sinim))

    ses = ss["s1"] * ZNS * ss["s5"]
    sis = ss["s2"] * ZNS * (ss["z11"] + ss["z13"])
    sls = -ZNS * ss["s3"] * (ss["z1"] + ss["z3"] - 14.0 - 6.0 * emsq)
    sghs = ss["s4"] * ZNS * (ss["z31"] + ss["z33"] - 6.0)
    shs = -ZNS * ss["s2"] * (ss["z21"] + ss["z23"])
    shs = torch.where(edge, zeros, shs)
    shs = torch.where(has_sin, shs / sinim_safe, shs)
    sgs = sghs - cosim * shs

    dedt = ses + sm["s1"] * ZNL * sm["s5"]
    didt = sis + sm["s2"] * ZNL * (sm["z11"] + sm["z13"])
    dmdt = sls - ZNL * sm["s3"] * (sm["z1"] + sm["z3"] - 14.0 - 6.0 * emsq)
    sghl = sm["s4"] * ZNL * (sm["z31"] + sm["z33"] - 6.0)
    shll = -ZNL * sm["s2"] * (sm["z21"] + sm["z23"])
    shll = torch.where(edge, zeros, shll)
    domdt = sgs + sghl
    dnodt = shs
    domdt = torch.where(has_sin, domdt - cosim / sinim_safe * shll, domdt)
    dnodt = torch.where(has_sin, dnodt + shll / sinim_safe, dnodt)

    # ---- dsinit: resonance terms ----
    theta = torch.fmod(gsto, TWOPI)
    aonv = torch.pow(nm / xke, X2O3)

    # half-day (12 h) resonance, for eccentric orbits
    cosisq = cosim * cosim
    eoc = em * emsq
    g201 = -0.306 - (em - 0.64) * 0.440
    low = em <= 0.65
    g211 = torch.where(
        low,
        3.616 - 13.2470 * em + 16.2900 * emsq,
        -72.099 + 331.819 * em - 508.738 * emsq + 266.724 * eoc,
    )
    g310 = torch.where(
        low,
        -19.302 + 117.3900 * em - 228.4190 * emsq + 156.5910 * eoc,
        -346.844 + 1582.851 * em - 2415.925 * emsq + 1246.113 * eoc,
    )
    g322 = torch.where(
        low,
        -18.9068 + 109.7927 * em - 214.6334 * emsq + 146.5816 * eoc,
        -342.585 + 1554.908 * em - 2366.899 * emsq + 1215.972 * eoc,
    )
    g410 = torch.where(
        low,
        -41.122 + 242.6940 * em - 471.0940 * emsq + 313.9530 * eoc,
        -1052.797 + 4758.686 * em - 7193.992 * emsq + 3651.957 * eoc,
    )
    g422 = torch.where(
        low,
        -146.407 + 841.8800 * em - 1629.014 * emsq + 1083.4350 * eoc,
        -3581.690 + 16178.110 * em - 24462.770 * emsq + 12422.520 * eoc,
    )
    g520 = torch.where(
        low,
        -532.114 + 3017.977 * em - 5740.032 * emsq + 3708.2760 * eoc,
        torch.where(
            em > 0.715,
            -5149.66 + 29936.92 * em - 54087.36 * emsq + 31324.56 * eoc,
            1464.74 - 4664.75 * em + 3763.64 * emsq,
        ),
    )
    below = em < 0.7
    g533 = torch.where(
        below,
        -919.22770 + 4988.6100 * em - 9064.7700 * emsq + 5542.21 * eoc,
        -37995.780 + 161616.52 * em - 229838.20 * emsq + 109377.94 * eoc,
    )
    g521 = torch.where(
        below,
        -822.71072 + 4568.6173 * em - 8491.4146 * emsq + 5337.524 * eoc,
        -51752.104 + 218913.95 * em - 309468.16 * emsq + 146349.42 * eoc,
    )
    g532 = torch.where(
        below,
        -853.66600 + 4690.2500 * em - 8624.7700 * emsq + 5341.4 * eoc,
        -40023.880 + 170470.89 * em - 242699.48 * emsq + 115605.82 * eoc,
    )
    sini2 = sinim * sinim
    f220 = 0.75 * (1.0 + 2.0 * cosim + cosisq)
    f221 = 1.5 * sini2
    f321 = 1.875 * sinim * (1.0 - 2.0 * cosim - 3.0 * cosisq)
    f322 = -1.875 * sinim * (1.0 + 2.0 * cosim - 3.0 * cosisq)
    f441 = 35.0 * sini2 * f220
    f442 = 39.3750 * sini2 * sini2
    f522 = (
        9.84375
        * sinim
        * (
            sini2 * (1.0 - 2.0 * cosim - 5.0 * cosisq)
            + 0.33333333 * (-2.0 + 4.0 * cosim + 6.0 * cosisq)
        )
    )
    f523 = sinim * (
        4.92187512 * sini2 * (-2.0 - 4.0 * cosim + 10.0 * cosisq)
        + 6.56250012 * (1.0 + 2.0 * cosim - 3.0 * cosisq)
    )
    f542 = 29.53125 * sinim * (2.0 - 8.0 * cosim + cosisq * (-12.0 + 8.0 * cosim + 10.0 * cosisq))
    f543 = 29.53125 * sinim * (-2.0 - 8.0 * cosim + cosisq * (12.0 + 8.0 * cosim - 10.0 * cosisq))
    xno2 = nm * nm
    ainv2 = aonv * aonv
    temp1 = 3.0 * xno2 * ainv2
    temp = temp1 * ROOT22
    d2201 = temp * f220 * g201
    d2211 = temp * f221 * g211
    temp1 = temp1 * aonv
    temp = temp1 * ROOT32
    d3210 = temp * f321 * g310
    d3222 = temp * f322 * g322
    temp1 = temp1 * aonv
    temp = 2.0 * temp1 * ROOT44
    d4410 = temp * f441 * g410
    d4422 = temp * f442 * g422
    temp1 = temp1 * aonv
    temp = temp1 * ROOT52
    d5220 = temp * f522 * g520
    d5232 = temp * f523 * g532
    temp = 2.0 * temp1 * ROOT54
    d5421 = temp * f542 * g521
    d5433 = temp * f543 * g533
    xlamo2 = torch.fmod(mo + nodeo + nodeo - theta - theta, TWOPI)
    xfact2 = mdot + dmdt + 2.0 * (nodedot + dnodt - RPTIM) - nm

    # one-day (24 h, synchronous) resonance
    g200 = 1.0 + emsq * (-2.5 + 0.8125 * emsq)
    g310s = 1.0 + 2.0 * emsq
    g300 = 1.0 + emsq * (-6.0 + 6.60937 * emsq)
    f220s = 0.75 * (1.0 + cosim) * (1.0 + cosim)
    f311 = 0.9375 * sinim * sinim * (1.0 + 3.0 * cosim) - 0.75 * (1.0 + cosim)
    f330 = 1.0 + cosim
    f330 = 1.875 * f330 * f330 * f330
    del1 = 3.0 * nm * nm * aonv * aonv
    del2 = 2.0 * del1 * f220s * g200 * Q22
    del3 = 3.0 * del1 * f330 * g300 * Q33 * aonv
    del1 = del1 * f311 * g310s * Q31 * aonv
    xlamo1 = torch.fmod(mo + nodeo + argpo - theta, TWOPI)
    xfact1 = mdot + xpidot - RPTIM + dmdt + domdt + dnodt - nm

    half, sync = irez == 2, irez == 1

    def on(mask: Tensor, x: Tensor) -> Tensor:
        return torch.where(mask, x, zeros)

    return DeepCoeffs(
        **periodic,
        zmol=zmol,
        zmos=zmos,
        dedt=dedt,
        didt=didt,
        dmdt=dmdt,
        dnodt=dnodt,
        domdt=domdt,
        irez=irez,
        d2201=on(half, d2201),
        d2211=on(half, d2211),
        d3210=on(half, d3210),
        d3222=on(half, d3222),
        d4410=on(half, d4410),
        d4422=on(half, d4422),
        d5220=on(half, d5220),
        d5232=on(half, d5232),
        d5421=on(half, d5421),
        d5433=on(half, d5433),
        del1=on(sync, del1),
        del2=on(sync, del2),
        del3=on(sync, del3),
        xfact=torch.where(half, xfact2, on(sync, xfact1)),
        xlamo=torch.where(half, xlamo2, on(sync, xlamo1)),
        gsto=gsto,
        argpo=argpo,
        argpdot=argpdot,
        no_unkozai=nm,
    )


def _resonance_rates(
    dc: DeepCoeffs, xli: Tensor, xni: Tensor, atime: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Rates (xldot, xndt, xnddt) of the resonance phase and mean motion at one integrator node."""
    # one-day resonance
    xndt1 = (
        dc.del1 * torch.sin(xli - FASX2)
        + dc.del2 * torch.sin(2.0 * (xli - FASX4))
        + dc.del3 * torch.sin(3.0 * (xli - FASX6))
    )
    xnddt1 = (
        dc.del1 * torch.cos(xli - FASX2)
        + 2.0 * dc.del2 * torch.cos(2.0 * (xli - FASX4))
        + 3.0 * dc.del3 * torch.cos(3.0 * (xli - FASX6))
    )
    # half-day resonance
    xomi = dc.argpo + dc.argpdot * atime
    x2omi = xomi + xomi
    x2li = xli + xli
    a_2201, a_2211 = x2omi + xli - G22, xli - G22
    a_3210, a_3222 = xomi + xli - G32, -xomi + xli - G32
    a_4410, a_4422 = x2omi + x2li - G44, x2li - G44
    a_5220, a_5232 = xomi + xli - G52, -xomi + xli - G52
    a_5421, a_5433 = xomi + x2li - G54, -xomi + x2li - G54
    xndt2 = (
        dc.d2201 * torch.sin(a_2201)
        + dc.d2211 * torch.sin(a_2211)
        + dc.d3210 * torch.sin(a_3210)
        + dc.d3222 * torch.sin(a_3222)
        + dc.d4410 * torch.sin(a_4410)
        + dc.d4422 * torch.sin(a_4422)
        + dc.d5220 * torch.sin(a_5220)
        + dc.d5232 * torch.sin(a_5232)
        + dc.d5421 * torch.sin(a_5421)
        + dc.d5433 * torch.sin(a_5433)
    )
    xnddt2 = (
        dc.d2201 * torch.cos(a_2201)
        + dc.d2211 * torch.cos(a_2211)
        + dc.d3210 * torch.cos(a_3210)
        + dc.d3222 * torch.cos(a_3222)
        + dc.d5220 * torch.cos(a_5220)
        + dc.d5232 * torch.cos(a_5232)
        + 2.0
        * (
            dc.d4410 * torch.cos(a_4410)
            + dc.d4422 * torch.cos(a_4422)
            + dc.d5421 * torch.cos(a_5421)
            + dc.d5433 * torch.cos(a_5433)
        )
    )
    half = dc.irez == 2
    xndt = torch.where(half, xndt2, xndt1)
    xldot = xni + dc.xfact
    xnddt = torch.where(half, xnddt2, xnddt1) * xldot
    return xldot, xndt, xnddt


def _integrator_nodes(dc: DeepCoeffs, n_back: int, n_fwd: int) -> list[Tensor]:
    """The integrator state at nodes ``-n_back .. n_fwd`` (multiples of 720 min), each ``(n, K)``.

    Returns ``[xli, xni, atime, xldot, xndt, xnddt]`` stacked along the last axis in node order.
    ``dc`` has ``(n,)`` fields here.
    """
    zero = torch.zeros_like(dc.xlamo)
    per_dir: dict[int, list[tuple[Tensor, ...]]] = {}
    for sign, n_steps in ((-1, n_back), (1, n_fwd)):
        delt = sign * STEP_MIN
        xli, xni, atime = dc.xlamo, dc.no_unkozai + zero, zero
        nodes: list[tuple[Tensor, ...]] = []
        for k in range(n_steps + 1):
            xldot, xndt, xnddt = _resonance_rates(dc, xli, xni, atime)
            nodes.append((xli, xni, atime, xldot, xndt, xnddt))
            if k < n_steps:
                xli = xli + xldot * delt + xndt * STEP2
                xni = xni + xndt * delt + xnddt * STEP2
                atime = atime + delt
        per_dir[sign] = nodes
    ordered = per_dir[-1][::-1] + per_dir[1][1:]
    return [torch.stack([node[j] for node in ordered], dim=-1) for j in range(6)]


def deep_secular(
    dc: DeepCoeffs,
    t: Tensor,
    em: Tensor,
    argpm: Tensor,
    inclm: Tensor,
    mm: Tensor,
    nodem: Tensor,
    nm: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Deep-space secular effects and resonances (reference ``dspace``).

    ``dc`` has fields shaped ``(n,)``; ``t`` [min] is ``(n, n_time)`` or ``(1, n_time)``; the
    mean elements are broadcastable to ``(n, n_time)``. Returns updated
    ``(em, argpm, inclm, mm, nodem, nm)`` shaped ``(n, n_time)``.
    """
    col = dc.column()
    theta = torch.fmod(col.gsto + t * RPTIM, TWOPI)
    em = em + col.dedt * t
    inclm = inclm + col.didt * t
    argpm = argpm + col.domdt * t
    nodem = nodem + col.dnodt * t
    mm = mm + col.dmdt * t

    resonant = dc.irez != 0
    if not bool(resonant.any()):
        return em, argpm, inclm, mm, nodem, nm + torch.zeros_like(t)

    # Steps the reference loop takes to reach t: while |t - atime| >= 720, step by +-720
    # (backwards for t <= 0), so floor(|t| / 720) of them.
    n_steps = torch.floor(torch.abs(t.detach()) / STEP_MIN)
    forward = t.detach() > 0.0
    n_fwd = int(torch.where(forward, n_steps, 0.0).max())
    n_back = int(torch.where(forward, 0.0, n_steps).max())
    table = _integrator_nodes(dc, n_back, n_fwd)
    node = (n_back + torch.where(forward, n_steps, -n_steps)).to(torch.int64)
    node = node.expand(em.shape[0], -1) if node.shape[0] != em.shape[0] else node
    xli, xni, atime, xldot, xndt, xnddt = (torch.gather(x, 1, node) for x in table)

    ft = t - atime
    nm_res = xni + xndt * ft + xnddt * ft * ft * 0.5
    xl = xli + xldot * ft + xndt * ft * ft * 0.5
    mm_res = torch.where(col.irez == 2, xl - 2.0 * nodem + 2.0 * theta, xl - nodem - argpm + theta)
    dndt = nm_res - col.no_unkozai
    nm_res = col.no_unkozai + dndt
    res = resonant[:, None]
    mm = torch.where(res, mm_res, mm)
    nm = torch.where(res, nm_res, nm + torch.zeros_like(nm_res))
    return em, argpm, inclm, mm, nodem, nm


def deep_periodics(
    dc: DeepCoeffs,
    t: Tensor,
    ep: Tensor,
    inclp: Tensor,
    nodep: Tensor,
    argpp: Tensor,
    mp: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Long-period lunar-solar periodics applied to the mean elements (reference ``dpper``).

    Below 0.2 rad of perturbed inclination the node and perigee are updated with the Lyddane
    modification. Shapes as in :func:`deep_secular`; returns ``(ep, inclp, nodep, argpp, mp)``.
    """
    c = dc.column()
    zm = c.zmos + ZNS * t
    zf = zm + 2.0 * ZES * torch.sin(zm)
    sinzf = torch.sin(zf)
    f2 = 0.5 * sinzf * sinzf - 0.25
    f3 = -0.5 * sinzf * torch.cos(zf)
    ses = c.se2 * f2 + c.se3 * f3
    sis = c.si2 * f2 + c.si3 * f3
    sls = c.sl2 * f2 + c.sl3 * f3 + c.sl4 * sinzf
    sghs = c.sgh2 * f2 + c.sgh3 * f3 + c.sgh4 * sinzf
    shs = c.sh2 * f2 + c.sh3 * f3
    zm = c.zmol + ZNL * t
    zf = zm + 2.0 * ZEL * torch.sin(zm)
    sinzf = torch.sin(zf)
    f2 = 0.5 * sinzf * sinzf - 0.25
    f3 = -0.5 * sinzf * torch.cos(zf)
    sel = c.ee2 * f2 + c.e3 * f3
    sil = c.xi2 * f2 + c.xi3 * f3
    sll = c.xl2 * f2 + c.xl3 * f3 + c.xl4 * sinzf
    sghl = c.xgh2 * f2 + c.xgh3 * f3 + c.xgh4 * sinzf
    shll = c.xh2 * f2 + c.xh3 * f3
    pe = ses + sel
    pinc = sis + sil
    pl = sls + sll
    pgh = sghs + sghl
    ph = shs + shll
    # (the reference subtracts the epoch values peo .. pho here, which are zero)

    inclp = inclp + pinc
    ep = ep + pe
    sinip = torch.sin(inclp)
    cosip = torch.cos(inclp)
    direct = inclp >= 0.2

    # apply the periodics directly
    ph_d = ph / torch.where(direct, sinip, torch.ones_like(sinip))
    pgh_d = pgh - cosip * ph_d
    argpp_d = argpp + pgh_d
    nodep_d = nodep + ph_d

    # Lyddane modification for low inclinations
    sinop = torch.sin(nodep)
    cosop = torch.cos(nodep)
    alfdp = sinip * sinop + (ph * cosop + pinc * cosip * sinop)
    betdp = sinip * cosop + (-ph * sinop + pinc * cosip * cosop)
    xnoh = torch.fmod(nodep, TWOPI)
    xls = mp + argpp + cosip * xnoh + (pl + pgh - pinc * xnoh * sinip)
    nodep_l = torch.atan2(alfdp, betdp)
    wrap = torch.abs(xnoh - nodep_l) > math.pi
    nodep_l = torch.where(
        wrap, torch.where(nodep_l < xnoh, nodep_l + TWOPI, nodep_l - TWOPI), nodep_l
    )
    mp = mp + pl
    argpp_l = xls - mp - cosip * nodep_l

    nodep = torch.where(direct, nodep_d, nodep_l)
    argpp = torch.where(direct, argpp_d, argpp_l)
    return ep, inclp, nodep, argpp, mp
