"""Procedural scenes of known geometry: a picture and its true inverse depth, for the depth twins (ch. 4).

A pinhole camera looks over a ground plane that recedes to a horizon; boxes, cylinders and spheres stand on it at
known depths, so their size and height in the frame follow perspective, nearer ones hide farther ones, and haze
pulls far colours towards the sky. Everything is numpy and seeded: one seed, one scene.
"""

from __future__ import annotations

import numpy as np


def _colour(rng, low: float = 0.1, high: float = 0.9) -> np.ndarray:
    return rng.uniform(low, high, 3)


def render(seed, height: int = 256, width: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A seeded scene: RGB (H, W, 3) and inverse depth (H, W), both in [0, 1], 1 = nearest, 0 = sky (ch. 4)."""
    rng = seed if isinstance(seed, np.random.RandomState) else np.random.RandomState(seed)
    h, w = height, width
    f = w * rng.uniform(0.8, 1.4)  # focal length in pixels
    horizon = h * rng.uniform(0.2, 0.55)
    cam_h = rng.uniform(1.0, 2.5)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    cx = w / 2 + rng.uniform(-0.1, 0.1) * w
    far = 1e4

    # ground plane: depth from the row, texture laid out in world coordinates so that it shrinks with distance
    below = ys > horizon + 0.5
    depth = np.where(below, f * cam_h / np.maximum(ys - horizon, 0.5), far)
    gx, gz = (xs - cx) * depth / f, depth
    period = rng.uniform(0.5, 3.0)
    kind = rng.randint(3)
    if kind == 0:  # checkerboard
        tex = ((np.floor(gx / period) + np.floor(gz / period)) % 2) * 2 - 1
    elif kind == 1:  # stripes across the view
        tex = np.sign(np.sin(2 * np.pi * gz / period))
    else:  # soft waves
        a, b = rng.uniform(-1, 1, 2)
        tex = np.sin(2 * np.pi * (a * gx + b * gz) / period) * np.sin(2 * np.pi * gz / (2.3 * period))
    # fade the texture where its period is a few pixels or less, so that it never aliases into a false pattern
    fade = np.clip(f * period / np.maximum(depth, 1e-3) / 8.0, 0, 1)
    ground_a, ground_b = _colour(rng), _colour(rng)
    mix = 0.5 + 0.5 * tex * fade * rng.uniform(0.3, 1.0)
    rgb = ground_a * (1 - mix[..., None]) + ground_b * mix[..., None]

    # an optional back wall, as in a room or a street front
    if rng.rand() < 0.3:
        wall_z = rng.uniform(6, 40)
        wall = wall_z < depth
        shade = 0.8 + 0.2 * np.sin(2 * np.pi * (xs - cx) * wall_z / f / rng.uniform(1, 5))
        rgb = np.where(wall[..., None], _colour(rng) * shade[..., None], rgb)
        depth = np.where(wall, wall_z, depth)

    # objects standing on the ground, drawn with a depth test so that nearer ones hide farther ones
    near_ground = f * cam_h / (h - horizon)
    light = rng.uniform(-1, 1, 2)
    for _ in range(rng.randint(1, 8)):
        z = near_ground * 1.05 + rng.exponential(8.0)
        half_view = (w / 2) / f * z
        x0 = rng.uniform(-1.1, 1.1) * half_view
        size_w, size_h = rng.uniform(0.3, 2.5), rng.uniform(0.3, 4.0)
        left, right = cx + f * (x0 - size_w / 2) / z, cx + f * (x0 + size_w / 2) / z
        bottom = horizon + f * cam_h / z
        top = bottom - f * size_h / z
        u = (xs - left) / max(right - left, 1e-3) * 2 - 1  # -1..1 across the object
        v = (ys - top) / max(bottom - top, 1e-3) * 2 - 1  # -1..1 down the object
        shape = rng.randint(3)
        if shape == 0:  # box: flat front face with a faint vertical gradient
            inside = (np.abs(u) <= 1) & (np.abs(v) <= 1)
            obj_z = np.full_like(depth, z)
            shade = 0.75 + 0.25 * light[0] - 0.1 * v
        elif shape == 1:  # cylinder: shaded across, curved towards the camera
            inside = (np.abs(u) <= 1) & (np.abs(v) <= 1)
            bulge = np.sqrt(np.clip(1 - u**2, 0, 1))
            obj_z = z - bulge * size_w / 2
            shade = 0.35 + 0.65 * np.clip(bulge * 0.7 + u * light[0] * 0.5, 0, 1)
        else:  # sphere resting on the ground: a disc of diameter size_w
            size_h = size_w
            top = bottom - f * size_h / z
            v = (ys - top) / max(bottom - top, 1e-3) * 2 - 1
            r2 = u**2 + v**2
            inside = r2 <= 1
            bulge = np.sqrt(np.clip(1 - r2, 0, 1))
            obj_z = z - bulge * size_w / 2
            shade = 0.3 + 0.7 * np.clip(bulge * 0.6 + (u * light[0] - v * abs(light[1])) * 0.4, 0, 1)
        hit = inside & (obj_z < depth)
        colour = _colour(rng)
        rgb = np.where(hit[..., None], colour * np.broadcast_to(shade, depth.shape)[..., None], rgb)
        depth = np.where(hit, obj_z, depth)

    # haze: far colours fade towards the sky's colour; the sky is that colour, bluer towards the top
    haze = rng.uniform(0.55, 1.0, 3)
    reach = rng.uniform(8.0, 40.0)
    fog = 1 - np.exp(-depth / reach)
    sky = haze * (1 - 0.35 * np.clip((horizon - ys) / max(horizon, 1), 0, 1))[..., None] * np.array([0.9, 0.95, 1.1])
    rgb = np.where((depth >= far)[..., None], sky, rgb * (1 - fog[..., None]) + haze * fog[..., None])
    rgb = np.clip(rgb + rng.normal(0, 0.01, rgb.shape), 0, 1)

    inverse = np.where(depth >= far, 0.0, 1.0 / depth)
    inverse = inverse / inverse.max()
    return rgb.astype(np.float32), inverse.astype(np.float32)
