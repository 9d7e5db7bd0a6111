// The mask painter's browser side (helpers/painter.py). Strokes are drawn here, on a canvas the picture's size;
// the kernel hears of a stroke only when it ends (pointerup), as a PNG in `mask_png`.
//
// The painted layer holds opaque red strokes; CSS shows it at 45% over the picture, so overlapping strokes do not
// darken. Its alpha is the mask. What is sent: an opaque PNG, that alpha written as grey (white = painted, grey on
// antialiased edges, black = keep); Python thresholds it at 50%.

const MAX_WIDTH = 512; // larger pictures are scaled down by CSS; the canvases keep the picture's own pixels
const BUTTON = "margin-left: 6px; padding: 2px 8px; cursor: pointer";

function element(tag, props = {}, style = "") {
  const node = Object.assign(document.createElement(tag), props);
  node.style.cssText = style;
  return node;
}

// A Bytes trait arrives as a DataView; colour management must not change the grey levels of a mask.
function bitmap(view) {
  const blob = new Blob([view], { type: "image/png" });
  return createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
}

// Same bytes: ipywidgets echoes a sent value back as a new DataView, which must not redraw over newer strokes.
function same(a, b) {
  if (!a || !b || a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a.getUint8(i) !== b.getUint8(i)) return false;
  return true;
}

async function render({ model, el }) {
  const labels = model.get("labels");
  const root = element("div", { className: "tutorial-mask-painter" },
    "display: inline-block; max-width: 100%; font: 13px sans-serif; color: var(--jp-ui-font-color1, inherit)");
  const stage = element("div", {}, "position: relative; max-width: 100%; line-height: 0; user-select: none");
  const picture = element("canvas", {}, "display: block; width: 100%; height: auto");
  const layer = element("canvas", { className: "tutorial-mask-canvas" },
    "position: absolute; left: 0; top: 0; width: 100%; height: 100%; opacity: 0.45; " +
    "touch-action: none; cursor: crosshair");
  stage.append(picture, layer);

  const slider = element("input", { type: "range", min: 1, step: 1 }, "vertical-align: middle");
  const width = element("span", { className: "tutorial-mask-brush" }, "display: inline-block; min-width: 3em");
  const eraser = element("button", { className: "tutorial-mask-eraser", textContent: labels.eraser }, BUTTON);
  const clear = element("button", { className: "tutorial-mask-clear", textContent: labels.clear }, BUTTON);
  const invert = element("button", { className: "tutorial-mask-invert", textContent: labels.invert }, BUTTON);
  const controls = element("div", { className: "tutorial-mask-controls" }, "margin-top: 6px");
  controls.append(`${labels.brush} `, slider, width, eraser, clear, invert);
  const status = element("div", { className: "tutorial-mask-painted" }, "margin-top: 4px");
  // a line from Python: the strokes of the painter made before, kept (helpers/painter_kept.py)
  const note = element("div", { className: "tutorial-mask-note" }, "margin-top: 4px; color: #a60");
  root.append(stage, controls, status, note);
  el.append(root);

  const shown = await bitmap(model.get("_picture_png"));
  const [w, h] = [shown.width, shown.height];
  for (const canvas of [picture, layer]) Object.assign(canvas, { width: w, height: h });
  picture.getContext("2d").drawImage(shown, 0, 0);
  stage.style.width = `${Math.min(w, MAX_WIDTH)}px`;
  const ctx = layer.getContext("2d", { willReadFrequently: true });
  slider.max = Math.max(model.get("brush"), Math.ceil(Math.max(w, h) / 4), 16);

  function showTools() {
    // painter.brush = 60 from Python: the slider's end grows to take it, as the stroke uses it
    slider.max = Math.max(Number(slider.max), model.get("brush"));
    slider.value = model.get("brush");
    width.textContent = ` ${model.get("brush")} px`;
    const on = model.get("eraser");
    eraser.setAttribute("aria-pressed", String(on));
    eraser.style.fontWeight = on ? "bold" : "normal";
    eraser.style.outline = on ? "2px solid currentColor" : "none";
  }

  function showNote() {
    note.textContent = model.get("note");
    note.style.display = model.get("note") ? "block" : "none";
  }

  function showPainted(alpha) {
    let painted = 0;
    for (let i = 3; i < alpha.length; i += 4) if (alpha[i] >= 128) painted++;
    const percent = ((100 * painted) / (w * h)).toFixed(1);
    status.textContent = labels.painted.replace("{percent}", percent);
  }

  // Sending: a stroke's end, clear and invert. Only the newest of overlapping sends is kept.
  let sent = null;
  let sending = 0;
  async function send() {
    const ticket = ++sending;
    const alpha = ctx.getImageData(0, 0, w, h).data;
    showPainted(alpha);
    const grey = new ImageData(w, h);
    for (let i = 0; i < alpha.length; i += 4) {
      grey.data[i] = grey.data[i + 1] = grey.data[i + 2] = alpha[i + 3];
      grey.data[i + 3] = 255;
    }
    const flat = element("canvas", { width: w, height: h });
    flat.getContext("2d").putImageData(grey, 0, 0);
    const blob = await new Promise((done) => flat.toBlob(done, "image/png"));
    const view = new DataView(await blob.arrayBuffer());
    if (ticket !== sending) return;
    sent = view;
    model.set("mask_png", view);
    model.save_changes();
  }

  // Receiving: a mask from Python (clear, invert, set_mask) or from another view of the same painter.
  async function load() {
    const view = model.get("mask_png");
    if (same(view, sent)) return; // this view's own stroke, from model.set or echoed by the kernel
    const paint = ctx.createImageData(w, h);
    if (view && view.byteLength) {
      const flat = element("canvas", { width: w, height: h });
      const fctx = flat.getContext("2d", { willReadFrequently: true });
      fctx.drawImage(await bitmap(view), 0, 0);
      const grey = fctx.getImageData(0, 0, w, h).data;
      for (let i = 0; i < grey.length; i += 4) {
        paint.data[i] = 255;
        paint.data[i + 3] = grey[i];
      }
    }
    ctx.putImageData(paint, 0, 0);
    sent = null; // the canvas now shows what came in, not the last stroke
    showPainted(paint.data);
  }

  // Painting: round lines of the brush's width, in picture pixels; the eraser cuts the layer's alpha away.
  let last = null;
  function at(event, box) {
    return [((event.clientX - box.left) * w) / box.width, ((event.clientY - box.top) * h) / box.height];
  }
  function stroke(from, to) {
    const size = model.get("brush");
    ctx.globalCompositeOperation = model.get("eraser") ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = "rgb(255, 0, 0)";
    ctx.lineWidth = size;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    if (from[0] === to[0] && from[1] === to[1]) {
      ctx.arc(to[0], to[1], size / 2, 0, 2 * Math.PI); // a click paints a dot
      ctx.fill();
    } else {
      ctx.moveTo(from[0], from[1]);
      ctx.lineTo(to[0], to[1]);
      ctx.stroke();
    }
  }
  function down(event) {
    if (event.button !== 0) return;
    event.preventDefault(); // no text selection, no image drag, no notebook cell drag
    event.stopPropagation();
    layer.setPointerCapture(event.pointerId);
    last = at(event, layer.getBoundingClientRect());
    stroke(last, last);
  }
  function move(event) {
    if (last === null) return;
    const box = layer.getBoundingClientRect();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) {
      const point = at(e, box);
      stroke(last, point);
      last = point;
    }
  }
  function up() {
    if (last === null) return;
    last = null;
    send();
  }

  layer.addEventListener("pointerdown", down);
  layer.addEventListener("pointermove", move);
  layer.addEventListener("pointerup", up);
  layer.addEventListener("pointercancel", up);
  layer.addEventListener("lostpointercapture", up);
  slider.addEventListener("input", () => {
    model.set("brush", Number(slider.value));
    showTools();
  });
  slider.addEventListener("change", () => model.save_changes());
  eraser.addEventListener("click", () => {
    model.set("eraser", !model.get("eraser"));
    model.save_changes();
    showTools();
  });
  clear.addEventListener("click", () => {
    ctx.clearRect(0, 0, w, h);
    send();
  });
  invert.addEventListener("click", () => {
    const image = ctx.getImageData(0, 0, w, h);
    for (let i = 0; i < image.data.length; i += 4) {
      image.data[i] = 255;
      image.data[i + 1] = image.data[i + 2] = 0;
      image.data[i + 3] = 255 - image.data[i + 3];
    }
    ctx.putImageData(image, 0, 0);
    send();
  });
  model.on("change:mask_png", load);
  model.on("change:brush change:eraser", showTools);
  model.on("change:note", showNote);
  showTools();
  showNote();
  await load();

  return () => {
    model.off("change:mask_png", load);
    model.off("change:brush change:eraser", showTools);
    model.off("change:note", showNote);
  };
}

export default { render };
