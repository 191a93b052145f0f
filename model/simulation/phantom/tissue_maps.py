"""The phantom's tissue maps on the scanner grid: labels, noise-free T2 and the injury mask.

:func:`_draw_anatomy` evaluates one infant's anatomy (:mod:`model.simulation.phantom.anatomy`) at
every voxel of the grid (:class:`model.simulation.phantom.scanner._Frame`), with its injuries
(:mod:`model.simulation.phantom.injuries`) applied: cerebral surfaces and sulci, tissue labels,
ventricles (natural size, then dilatation), white matter loss, tissue T2, cysts and punctate
lesions. It is one function because its steps share the same boxed-out arrays, and their order fixes
the output. Imports the anatomy, injuries and scanner submodules.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from model.simulation.phantom.anatomy import (
    _BASAL_NOTCH,
    _BRAINSTEM_CUT_Z,
    _BRAINSTEM_R,
    _BRAINSTEM_TOP_Z,
    _BRAINSTEM_Y,
    _BRAINSTEM_Z,
    _CEREBELLUM,
    _CEREBRUM_AXES,
    _CORE,
    _DEEP_NUCLEI,
    _FOURTH_VENTRICLE,
    _HEAD_SHELL_MM,
    _NOISE_HALF_MM,
    _NOISE_STEP_MM,
    _PLIC,
    _THIRD_VENTRICLE,
    BACKGROUND,
    CEREBELLUM_BRAINSTEM,
    CORTEX,
    CSF,
    DEEP_GM,
    VENTRICLES,
    WHITE_MATTER,
    _cerebrum_axes,
    _ellipsoid_box,
    _ellipsoid_depth,
    _growth,
    _Subject,
    _vent_box,
    _ventricle_distance,
)
from model.simulation.phantom.injuries import _draw_lesions, _Injury
from model.simulation.phantom.scanner import _Frame


def _draw_anatomy(frame: _Frame, subj: _Subject, inj: _Injury, spacing: np.ndarray):  # noqa: C901 - one recipe, step by step
    """Labels, noise-free T2 (before bias/scale), injury mask and findings on the scanner grid."""
    shape = frame.shape
    qx, qy, qz = frame.grid()
    g = _growth(subj.pma)
    to_q = 1.0 / subj.size  # real mm -> anatomical mm
    ay = _CEREBRUM_AXES[1]
    f32 = np.float32

    # --- cerebral surfaces: signed depth below the nearest pial surface (anatomical mm) ---------
    ax_eff, az_eff = _cerebrum_axes(qy, qz)
    d_norm = _ellipsoid_depth(qx, qy, qz, ax_eff, f32(ay), az_eff)
    rim_q = subj.rim_mm * to_q
    d_skull = d_norm + f32(rim_q)
    del ax_eff, az_eff
    d_base = d_norm.copy()
    fw_q = subj.fissure_mm * to_q
    cy, cz, cay, caz = _CORE
    band = frame.box((-12.0, -80.0, -80.0), (12.0, 80.0, 80.0))
    if band is not None:
        x, y, z = qx[band], qy[band], qz[band]
        d_core = _ellipsoid_depth(0.0, y - f32(cy), z - f32(cz), 1.0, f32(cay), f32(caz))
        d_fiss = np.maximum(np.abs(x) - f32(fw_q / 2), 3.0 * d_core)
        np.minimum(d_base[band], d_fiss, out=d_base[band])
        in_core = d_core > 0
        core_depth = d_core
        del d_fiss
    # Sylvian fissure: a lens-shaped cleft down to the insula; wide open at 28 weeks, closing by term
    syl_y0, syl_ly = -5.0, 24.0
    syl_w = 9.0 - 6.5 * float(np.clip((subj.pma - 28.0) / 12.0, 0.0, 1.0))
    x_insula = 31.0 - 4.0 * g
    box = frame.box((-45.0, syl_y0 - syl_ly, -25.0), (45.0, syl_y0 + syl_ly, 20.0))
    if box is not None:
        x, y, z = qx[box], qy[box], qz[box]
        w = f32(syl_w) * (1.0 - ((y - f32(syl_y0)) / f32(syl_ly)) ** 2)
        zs = f32(-4.0) - f32(0.35) * y
        d_syl = np.maximum(np.abs(z - zs) - w / 2, f32(x_insula) - np.abs(x))
        np.minimum(d_base[box], d_syl, out=d_base[box])
        del d_syl, w, zs
    # Tentorium: the occipital lobes rest on the cerebellum with a thin CSF gap
    (cbx, cby, cbz), cb_axes = _CEREBELLUM
    box = frame.box(*_ellipsoid_box(_CEREBELLUM[0], cb_axes, 12.0))
    if box is not None:
        d_cb = _ellipsoid_depth(qx[box] - cbx, qy[box] - cby, qz[box] - cbz, *cb_axes)
        np.minimum(d_base[box], -d_cb - f32(0.8 * to_q), out=d_base[box])
    notch_c, notch_a = _BASAL_NOTCH
    box = frame.box(*_ellipsoid_box(notch_c, notch_a, 8.0))
    if box is not None:
        d_notch = -_ellipsoid_depth(qx[box] - notch_c[0], qy[box] - notch_c[1], qz[box] - notch_c[2], *notch_a)
        np.minimum(d_base[box], d_notch, out=d_base[box])
    loss_q = inj.wm_loss * 15.0  # fraction of ~15 mm of cerebral white matter (term-sized)
    d_base_normal = d_base
    if loss_q > 0:
        d_base = d_base_normal - f32(loss_q)
        if band is not None:  # the corpus callosum thins less than the hemispheres
            d_base[band] += f32(0.75 * loss_q) * in_core

    # --- sulci: radial sheets where the folding field crosses zero, down to a PMA-dependent depth
    thick_q = subj.cortex_mm * to_q
    sulc_depth = 10.0 * float(np.clip((subj.pma - 27.0) / 14.0, 0.0, 1.15))
    sulc_w = (0.7 + 4.0 * inj.wm_loss) * to_q
    d = d_base
    if sulc_depth > 0:
        shell = np.flatnonzero((d_base > -1.0) & (d_base < f32(sulc_depth + thick_q + 1.0)) & (d_skull >= 0))
        x, y, z = (a.reshape(-1)[shell] for a in (qx, qy, qz))
        db = d_base.reshape(-1)[shell]
        ax_s, az_s = _cerebrum_axes(y, z)
        r = np.sqrt((x / ax_s) ** 2 + (y / ay) ** 2 + (z / az_s) ** 2)
        r = np.maximum(r, 1e-3)
        # medial surface: fold pattern constant across the fissure plane
        d_core = _ellipsoid_depth(0.0, y - f32(cy), z - f32(cz), 1.0, f32(cay), f32(caz))
        medial = (np.abs(x) - fw_q / 2) < d_norm.reshape(-1)[shell]
        look = np.stack(
            [np.where(medial, np.sign(x) * 5.0, x / r), np.where(medial, y, y / r), np.where(medial, z, z / r)]
        )
        look = (look + np.array(_NOISE_HALF_MM, dtype=np.float32)[:, None]) / f32(_NOISE_STEP_MM)
        field_n = ndimage.map_coordinates(subj.folding, look, order=1, mode="nearest")
        grad_n = ndimage.map_coordinates(subj.folding_grad, look, order=1, mode="nearest")
        mod = ndimage.map_coordinates(subj.depth_mod, look, order=1, mode="nearest")
        depth = f32(sulc_depth) * (0.7 + 0.4 * np.tanh(1.5 * mod))
        # fewer, shallower folds on the medial surface; none into the corpus callosum
        depth *= np.where(medial, f32(0.6) * (mod > 0.3), f32(1.0)) * ((d_core < 0) | (np.abs(x) > 12.0))
        # distance to the zero sheet, |N| / |grad N| (first order), so that the banks have even
        # width; intersected with the depth limit, with a rounded fundus
        a = np.abs(field_n) / np.maximum(grad_n, f32(0.3 / subj.folding_len)) - f32(sulc_w / 2)
        b = db - depth
        d_sulc = np.where((a > 0) & (b > 0), np.sqrt(a * a + b * b), np.maximum(a, b))
        d = d_base.copy()
        d.reshape(-1)[shell] = np.minimum(db, d_sulc)
        del x, y, z, db, r, look, field_n, grad_n, mod, depth, a, b, d_sulc, shell

    # --- labels ---------------------------------------------------------------------------------
    labels = np.zeros(shape, np.uint8)
    labels[d_skull > f32(-_HEAD_SHELL_MM * to_q)] = BACKGROUND
    intracranial = d_skull >= 0
    del d_skull
    cb_box = frame.box(*_ellipsoid_box(_CEREBELLUM[0], cb_axes, 10.0))
    bs_box = frame.box((-12.0, -35.0, _BRAINSTEM_CUT_Z), (12.0, 2.0, 0.0))
    cerebellum = brainstem = None
    if cb_box is not None:
        d_cb = _ellipsoid_depth(qx[cb_box] - cbx, qy[cb_box] - cby, qz[cb_box] - cbz, *cb_axes)
        head_cb = d_cb > f32(-(subj.rim_mm + 0.8 + _HEAD_SHELL_MM) * to_q)
        labels[cb_box][head_cb & (labels[cb_box] == 0)] = BACKGROUND
        intracranial[cb_box] |= d_cb > f32(-(subj.rim_mm + 0.8) * to_q)
        del head_cb
        # the hemispheres are separated behind and below the vermis by a midline cleft
        x, y, z = qx[cb_box], qy[cb_box], qz[cb_box]
        cleft = (np.abs(x) < f32(1.0 * to_q)) & (y < f32(cby - 0.5 * cb_axes[1])) & (z < f32(cbz + 0.3 * cb_axes[2]))
        cerebellum = (d_cb >= 0) & ~cleft
        del x, y, z, cleft
    if bs_box is not None:
        x, y, z = qx[bs_box], qy[bs_box], qz[bs_box]
        yb = np.interp(z, _BRAINSTEM_Z[::-1], _BRAINSTEM_Y[::-1]).astype(np.float32)
        rb = np.interp(z, _BRAINSTEM_Z[::-1], _BRAINSTEM_R[::-1]).astype(np.float32)
        rr = np.sqrt(x * x + (y - yb) ** 2) - rb
        in_z = (z > f32(_BRAINSTEM_CUT_Z)) & (z < f32(_BRAINSTEM_TOP_Z))
        intracranial[bs_box] |= (rr < f32(1.5 * to_q)) & in_z
        labels[bs_box][(rr < f32((1.5 + _HEAD_SHELL_MM) * to_q)) & in_z & (labels[bs_box] == 0)] = BACKGROUND
        # rounded top where the midbrain meets the diencephalon
        dome = f32(-10.0) + f32(6.0) * np.sqrt(np.clip(1.0 - (x * x + (y - yb) ** 2) / (rb * rb), 0.0, 1.0))
        brainstem = (rr < 0) & in_z & (z < dome)
        del dome
        del x, y, z, yb, rb, rr, in_z
    labels[intracranial] = CSF
    parenchyma = intracranial & (d >= 0)
    labels[parenchyma] = WHITE_MATTER
    labels[parenchyma & (d < f32(thick_q))] = CORTEX
    del parenchyma

    intensity_deep = {}
    dbox = frame.box((-30.0, -30.0, -20.0), (30.0, 28.0, 20.0))
    if dbox is not None:
        x, y, z = qx[dbox], qy[dbox], qz[dbox]
        sub = labels[dbox]
        for k, (centre, axes, _lo, _hi) in enumerate(_DEEP_NUCLEI):
            inside = _ellipsoid_depth(np.abs(x) - f32(centre[0]), y - f32(centre[1]), z - f32(centre[2]), *axes) > 0
            sel = inside & (sub == WHITE_MATTER)
            sub[sel] = DEEP_GM
            intensity_deep[k] = sel
        del x, y, z
    if cb_box is not None:
        labels[cb_box][cerebellum & intracranial[cb_box]] = CEREBELLUM_BRAINSTEM
    if bs_box is not None:
        labels[bs_box][brainstem] = CEREBELLUM_BRAINSTEM
    cc_q = 2.5 * to_q  # corpus callosum thickness
    if band is not None:
        # midline below the corpus callosum: cavum septi pellucidi / third ventricle region is fluid
        sub = labels[band]
        midline = (np.abs(qx[band]) < f32(fw_q / 2)) & (core_depth > f32(cc_q)) & (sub == WHITE_MATTER)
        ry = (qy[band] - f32(cy)) / f32(0.7 * cay)
        rz = (qz[band] - f32(cz + 0.25 * caz)) / f32(0.75 * caz)
        midline &= ry * ry + rz * rz < 1
        del ry, rz
        sub[midline] = CSF
        del midline

    # --- ventricles (natural size, then pathological dilatation) --------------------------------
    injury_mask = np.zeros(shape, bool)
    vscale = subj.vent_scale
    vbox = frame.box(*_vent_box(max(vscale) * inj.dilatation))
    if vbox is not None:
        x, y, z = qx[vbox], qy[vbox], qz[vbox]
        allowed = (d_base_normal[vbox] > f32(1.0 * to_q)) & np.isin(labels[vbox], (WHITE_MATTER, DEEP_GM, CORTEX))
        natural = (_ventricle_distance(x, y, z, vscale) < 0) & allowed
        if inj.dilatation > 1.0:
            scaled = (vscale[0] * inj.dilatation, vscale[1] * inj.dilatation)
            vent = (_ventricle_distance(x, y, z, scaled) < 0) & allowed
            injury_mask[vbox] |= vent & ~natural
        else:
            vent = natural
        labels[vbox][vent] = VENTRICLES
        del x, y, z, allowed, natural, vent
    for (centre, axes), allowed_labels, widen in (
        (_THIRD_VENTRICLE, (WHITE_MATTER, DEEP_GM), inj.dilatation),
        (_FOURTH_VENTRICLE, (CEREBELLUM_BRAINSTEM,), 1.0),
    ):
        axes = (axes[0] * widen, axes[1], axes[2])
        box = frame.box(*_ellipsoid_box(centre, axes, 1.0))
        if box is None:
            continue
        sub = labels[box]
        inside = _ellipsoid_depth(qx[box] - centre[0], qy[box] - centre[1], qz[box] - centre[2], *axes) > 0
        sel = inside & np.isin(sub, allowed_labels)
        if widen > 1.0:
            natural = (
                _ellipsoid_depth(
                    qx[box] - centre[0], qy[box] - centre[1], qz[box] - centre[2], axes[0] / widen, axes[1], axes[2]
                )
                > 0
            )
            injury_mask[box] |= sel & ~natural
        sub[sel] = VENTRICLES

    if loss_q > 0:  # tissue that the normal brain would have, now CSF
        lost = (d_base_normal >= 0) & (d_base < 0) & (labels == CSF)
        injury_mask |= lost

    # --- T2 before bias: tissue look-up, then deep nuclei, posterior fossa, lesions ----------------
    t = subj.t2
    lut = np.array([0.0, t["csf"], t["gm"], t["wm"], 0.0, t["csf"], t["cerebellum"], t["deep"][0]], np.float32)
    intensity = lut[labels]
    if dbox is not None:
        sub = intensity[dbox]
        lab = labels[dbox]
        for k, sel in intensity_deep.items():
            sub[sel & (lab == DEEP_GM)] = f32(t["deep"][k])
        (pcx, pcy, pcz), p_axes = _PLIC
        plic = _ellipsoid_depth(np.abs(qx[dbox]) - f32(pcx), qy[dbox] - f32(pcy), qz[dbox] - f32(pcz), *p_axes) > 0
        sub[plic & (lab == WHITE_MATTER)] = f32(t["wm"] * (1.0 - 0.35 * g))
    if band is not None:  # compact corpus callosum fibres: darker than the surrounding white matter
        sub = intensity[band]
        cc = (np.abs(qx[band]) < f32(6.0)) & (core_depth >= 0) & (core_depth <= f32(cc_q)) & (qz[band] > f32(cz))
        sub[cc & (labels[band] == WHITE_MATTER)] = f32(t["wm"] * (0.9 - 0.1 * g))
        del cc
    if cb_box is not None:
        # darker cortex, brighter central white matter
        sub = intensity[cb_box]
        depth_mm = d_cb * f32(subj.size)
        shade = f32(0.92) + f32(0.16) * np.clip((depth_mm - f32(2.0)) / f32(4.0), 0.0, 1.0)
        sel = cerebellum & (labels[cb_box] == CEREBELLUM_BRAINSTEM)
        sub[sel] = f32(t["cerebellum"]) * shade[sel]
        del depth_mm, shade
    if bs_box is not None:
        sub = intensity[bs_box]
        sub[brainstem & (labels[bs_box] == CEREBELLUM_BRAINSTEM)] = f32(t["brainstem"])

    n_cysts = _draw_lesions(
        frame,
        inj.cysts,
        qx,
        qy,
        qz,
        labels,
        intensity,
        injury_mask,
        subj.size,
        spacing,
        new_label=CSF,
        value=t["csf"] * 1.02,
    )
    n_punct = _draw_lesions(
        frame,
        inj.punctate,
        qx,
        qy,
        qz,
        labels,
        intensity,
        injury_mask,
        subj.size,
        spacing,
        new_label=WHITE_MATTER,
        value=0.30,
    )
    findings = {
        "ventricular_dilatation": round(float(inj.dilatation), 3),
        "cysts": int(n_cysts),
        "punctate_lesions": int(n_punct),
        "wm_loss": round(float(inj.wm_loss), 3),
    }
    return labels, intensity, injury_mask, findings
