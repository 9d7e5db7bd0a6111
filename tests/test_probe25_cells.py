"""From a twenty-fifth probe: chapter cells where a learner's small edit gave a silently wrong or empty result.

Each test runs a chapter cell's own source with cheap stand-ins (no model loads): with the chapter's values it
gives the stored result; with the learner's edit it works, or says at once what went wrong.
"""

import re

import numpy as np
import pytest
from PIL import Image
from test_probe22_cells import cell
from test_probe23_cells import stored

PROMPT = "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k"


def test_chapter_4_by_hand_sum_reads_its_weight_from_the_prompt_it_redoes():
    source = cell("04_controlling_generation", '# the weight of "astronaut--", read off')
    assert not re.search(r"^w = [\d.]+ *(#|$)", source, re.M)  # no literal to change to 0.9 (was a False)
    head = source.split("tokenizer, text")[0]
    names = {"prompt": PROMPT, "weighted_prompts": {"astronaut--": "Astronaut-- " + PROMPT.split(" ", 1)[1]}}
    exec(head, names)  # noqa: S102 - the chapter's own cell
    assert names["w"] == 0.9 * 0.9 and f"{names['w']}" == "0.81"  # compel: each trailing '-' is a factor 0.9
    assert stored("04_controlling_generation", '# the weight of "astronaut--"').startswith("tan((1 - 0.81) * pi/2)")
    one_word = {"prompt": "Cat", "weighted_prompts": {"astronaut--": "Cat-- "}}
    exec(head, one_word)  # noqa: S102
    assert one_word["w"] == names["w"]


class FakeCompel:
    """compel as encode() uses it: the text it would weight stands in for the tensor."""

    def __call__(self, text):
        return text

    def pad_conditioning_tensors_to_same_length(self, tensors):
        return tensors


def encode_with(said):
    source = cell("04_controlling_generation", "def encode(prompt, negative_prompt, params)")
    names = {"re": re, "compel": FakeCompel(), "warn_call": said.append}
    exec(source[source.index("def encode("):source.index("\n\npanel = Panel(")], names)  # noqa: S102
    return lambda prompt, weight=1.5: names["encode"](prompt, "", {"weight": weight})["prompt_embeds"]


def test_chapter_4_panel_weights_jungle_in_any_case_and_says_when_there_is_none():
    said = []
    encode = encode_with(said)
    assert encode(PROMPT, 1.0) == PROMPT.replace("jungle", "(jungle)1")  # the chapter's prompt, as before
    assert encode("Jungle at dawn, astronaut") == "(Jungle)1.5 at dawn, astronaut"  # was left unweighted
    assert encode("a JUNGLE of jungles") == "a (JUNGLE)1.5 of (jungle)1.5s"  # the learner's spelling kept
    assert said == []
    assert encode("Astronaut in a desert") == "Astronaut in a desert"
    assert said == ["the weight slider only weights the word 'jungle', and does nothing for this prompt: "
                    "put 'jungle' in the prompt to use it"]
    assert encode("Astronaut in a Jungle++") == "Astronaut in a Jungle++"  # its own weight, in any case
    assert "weights 'jungle' itself" in said[-1]


def area_differences():
    source = cell("05_inpainting", "def area_differences(init, output, mask)")
    names = {"np": np, "Image": Image}
    exec(source.split("\n\nholed = ")[0], names)  # noqa: S102 - the chapter's own function
    return names["area_differences"]


def test_chapter_5_area_differences_refuses_output_and_mask_swapped():
    measure = area_differences()
    init = Image.new("RGB", (8, 8), (200, 120, 40))
    output = init.copy()
    output.paste((20, 60, 220), (0, 0, 8, 4))  # the top half repainted
    mask = Image.new("L", (8, 8), 0)
    mask.paste(255, (0, 0, 8, 4))
    assert measure(init, output, mask) == (0.0, pytest.approx((180 + 60 + 180) / 3))
    for as_mask in (mask, mask.convert("1"), mask.convert("RGB")):  # was wrong numbers, silently
        with pytest.raises(ValueError, match=re.escape("area_differences takes (init, output, mask): ")):
            measure(init, as_mask, output)
    grey = Image.new("RGB", (8, 8), (90, 90, 90))  # grey pictures with a grey mask are still measured
    assert measure(grey, grey.copy(), mask.convert("RGB")) == (0.0, 0.0)
