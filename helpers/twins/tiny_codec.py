"""Hand-set weights that make a twin AutoencoderTiny (TAESD) the same colour-average codec as the twin VAEs.

Real TAESD reads and writes the latents that the UNet sees: the AutoencoderKL latents already multiplied by its
`scaling_factor`. So the encoder here writes `gains x scaling_factor` times the cell averages of the twin
AutoencoderKL, and the decoder undoes exactly that, with the same sharpening and linear interpolation.

Every block's residual branch is zero in the encoder and after the first up-sampler: such a block is a ReLU, so each
signal travels with its negative, (Y, -Y, Cb, -Cb, Cr, -Cr), and s = ReLU(s) - ReLU(-s) stays exact.

DecoderTiny first clamps its input to 3 tanh(z / 3), and nothing can scale the latents before that. The decoder
undoes the clamp on the latent grid: each latent channel gets two extra blocks whose ReLU units add a piecewise-linear
curve through (3 tanh(z / 3), z) for z = 0, 0.5, ..., 4, on either side of zero. The curve is off by at most 0.018 for
|z| <= 4 (photos stay within about 3.5); beyond 4 the clamp wins (z = 5 comes back as 4.65, z = 6 as 5.0).
"""

from __future__ import annotations

from helpers.twins.codec import SHARPEN, TO_RGB, TO_YCC

WIDTH = 8  # channels at every level
LATENT = 4
KNOTS_Z = tuple(0.5 * k for k in range(9))  # the points the decoder's curve goes through, in latent units
OFFSET = 8.0  # keeps each latent channel positive on the latent grid; the curve stays within +-5.5
CORRECTION_BLOCKS = 2 * LATENT  # per latent channel: one block for z > 0, one for z < 0


def tiny_codec_config() -> dict:
    """AutoencoderTiny keyword arguments that `set_tiny_codec_weights` expects (ch. 1)."""
    return {
        "encoder_block_out_channels": (WIDTH,) * 4, "decoder_block_out_channels": (WIDTH,) * 4,
        "num_encoder_blocks": (1, 1, 1, 1),
        # the latent grid needs the correction blocks and one block that sharpens and splits into signal pairs
        "num_decoder_blocks": (CORRECTION_BLOCKS + 1, 1, 1, 1),
    }


def _zero(module) -> None:
    for p in module.parameters():
        p.data.zero_()


def _set(conv, out: int, inp: int, value: float) -> None:
    """Centre tap only: a per-pixel weight from input channel `inp` to output channel `out`."""
    k = conv.kernel_size[0] // 2
    conv.weight.data[out, inp, k, k] = value


def _per_channel(conv, taps, channels: int = 6) -> None:
    """Give each signal channel the separable kernel `taps`; no mixing, no bias."""
    import torch

    t = torch.tensor(taps, dtype=conv.weight.dtype)
    for c in range(channels):
        conv.weight.data[c, c] = torch.outer(t, t)


def _hinges() -> list[tuple[float, float]]:
    """(knot, slope change) pairs in clamped units u = 3 tanh(z / 3): the curve is u + sum c * ReLU(u - t)."""
    import math

    u = [3 * math.tanh(z / 3) for z in KNOTS_Z]
    slopes = [(KNOTS_Z[k + 1] - KNOTS_Z[k]) / (u[k + 1] - u[k]) for k in range(len(u) - 1)]
    # the skip path already carries u with slope 1
    return [(u[k], slopes[k] - (slopes[k - 1] if k else 1.0)) for k in range(len(slopes))]


def set_tiny_codec_weights(tiny, scaling_factor: float, gains: tuple[float, ...]) -> None:
    """Set a twin AutoencoderTiny to the twin AutoencoderKL's codec for this scaling_factor and gains (ch. 1–5)."""
    import torch

    scale = [scaling_factor * g for g in gains]  # scaled latent = scale x cell average of its signal
    picks = [0, 1, 2, 0]  # Y, Cb, Cr, Y
    with torch.no_grad():
        _zero(tiny)  # every block's branch then adds nothing: the block is a ReLU
        enc = list(tiny.encoder.layers)
        # EncoderTiny reads (x + 1) / 2: x = 2 x' - 1 gives the signals in [-1, 1] units, as the twin VAEs use
        for s, row in enumerate(TO_YCC):
            for sign, c in ((1.0, 2 * s), (-1.0, 2 * s + 1)):
                for i in range(3):
                    _set(enc[0], c, i, sign * 2 * row[i])
                enc[0].bias.data[c] = -sign * sum(row)
        for layer in enc[1:-1]:
            if isinstance(layer, torch.nn.Conv2d):
                # padding 1, stride 2: taps 1 and 2 average each 2x2 cell, as the twin VAEs' down-samplers do
                _per_channel(layer, (0.0, 0.5, 0.5))
        for j, p in enumerate(picks):
            _set(enc[-1], j, 2 * p, scale[j])
            _set(enc[-1], j, 2 * p + 1, -scale[j])

        dec = list(tiny.decoder.layers)
        # after the clamp: latent channel j rides at u_j + OFFSET, so the ReLUs on the latent grid never cut it
        for j in range(LATENT):
            _set(dec[0], j, j, 1.0)
            dec[0].bias.data[j] = OFFSET
        grid = dec[2:3 + CORRECTION_BLOCKS]  # the decoder's blocks on the latent grid, before the first Upsample
        if not isinstance(dec[3 + CORRECTION_BLOCKS], torch.nn.Upsample):
            raise ValueError("set_tiny_codec_weights needs the decoder layout of tiny_codec_config()")
        hinges = _hinges()
        for b, block in enumerate(grid[:-1]):
            j, sign = b // 2, (1.0, -1.0)[b % 2]
            first, middle, last = block.conv[0], block.conv[2], block.conv[4]
            for h, (t, c) in enumerate(hinges):
                _set(first, h, j, sign)  # ReLU(sign x u_j - t)
                first.bias.data[h] = -sign * OFFSET - t
                _set(middle, h, h, 1.0)
                _set(last, j, h, sign * c)
        # the last block on the grid: pairs (v+, v-) of each latent, then the sharpened signals as (s, -s)
        block = grid[-1]
        first, middle, last = block.conv[0], block.conv[2], block.conv[4]
        for j in range(LATENT):
            for sign, h in ((1.0, 2 * j), (-1.0, 2 * j + 1)):
                _set(first, h, j, sign)
                first.bias.data[h] = -sign * OFFSET
                _set(middle, h, h, 1.0)
        to_ycc = [[0.5 / scale[0], 0.0, 0.0, 0.5 / scale[3]], [0.0, 1 / scale[1], 0.0, 0.0],
                  [0.0, 0.0, 1 / scale[2], 0.0]]
        taps = torch.tensor((-SHARPEN, 1 + 2 * SHARPEN, -SHARPEN))
        sharpen = torch.outer(taps, taps)  # the twin VAEs' prefilter on the latent grid
        for s, row in enumerate(to_ycc):
            for sign, c in ((1.0, 2 * s), (-1.0, 2 * s + 1)):
                for j, m in enumerate(row):
                    if m:
                        last.weight.data[c, 2 * j] += sign * m * sharpen
                        last.weight.data[c, 2 * j + 1] -= sign * m * sharpen
        for j in range(LATENT):  # minus the skip path, which still carries u_j + OFFSET
            last.weight.data[j, 2 * j, 1, 1] -= 1.0
            last.weight.data[j, 2 * j + 1, 1, 1] += 1.0
            last.bias.data[j] = -OFFSET
        for layer in dec:
            if isinstance(layer, torch.nn.Conv2d) and layer.bias is None:
                # after nearest-neighbour doubling, (1, 2, 1) / 4 is linear interpolation, as in the twin VAEs
                _per_channel(layer, (0.25, 0.5, 0.25))
        # DecoderTiny returns 2 x out - 1
        for c in range(3):
            for s in range(3):
                _set(dec[-1], c, 2 * s, 0.5 * TO_RGB[c][s])
                _set(dec[-1], c, 2 * s + 1, -0.5 * TO_RGB[c][s])
            dec[-1].bias.data[c] = 0.5
