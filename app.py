"""T2I Studio: the Gradio app (UI only; the logic lives in t2i/studio/).

    python app.py                       # http://127.0.0.1:7860, models from checkpoints/
    T2I_CHECKPOINTS=/path/to/models python app.py
    T2I_MODELS="user/swfgan-synthbirds-64,user/cigan-synthbirds-64" python app.py   # + models from the Hub

Environment: T2I_CHECKPOINTS (model folders; default <repo>/checkpoints), T2I_MODELS (extra Hub ids or folders,
comma-separated), T2I_CONCURRENCY (requests run at once, default 2), T2I_QUEUE (waiting requests, default 32),
T2I_THREADS (torch threads per request; default: cores / concurrency), T2I_DEVICE (default cpu),
T2I_MAX_UPLOAD (largest upload, default 20mb), T2I_SERVE_CHECKPOINTS=1 (also serve the model folders' files over
HTTP; off by default, so weights and configs cannot be downloaded through the app).
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
if not os.environ.get("T2I_MODELS", "").strip():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model is local: never touch the network

import logging  # noqa: E402
import random  # noqa: E402

import torch  # noqa: E402

CONCURRENCY = max(1, int(os.environ.get("T2I_CONCURRENCY", "2")))
QUEUE_SIZE = max(1, int(os.environ.get("T2I_QUEUE", "32")))
torch.set_num_threads(int(os.environ.get("T2I_THREADS", "0")) or max(1, (os.cpu_count() or 1) // CONCURRENCY))

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from t2i.studio import (BEST_OF, EDIT_GUIDANCE, EXAMPLES_DIR, MAX_EDIT_STEPS, MAX_IMAGES,  # noqa: E402
                        NewestRequest, Studio, example_images, read_prompts, upscale, user_message)

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
log = logging.getLogger("t2i.app")

STUDIO = Studio(device=os.environ.get("T2I_DEVICE", "cpu"), parallel=CONCURRENCY)
NEWEST = NewestRequest()  # per browser session: the on-load Generate must not overwrite a later one
PROMPTS = read_prompts()
EXAMPLE_IMAGES = [str(p) for p in example_images()]
COMPARE_EXAMPLES = [["a small bird with a red belly and black wings", "a small bird with a blue belly and black wings"],
                    ["this bird has a yellow breast and a grey crown",
                     "this bird has a yellow breast and a black crown"],
                    ["a large bird with white wings and a short bill", "a large bird with white wings and a long bill"]]

THEME = gr.themes.Soft(primary_hue="teal", secondary_hue="amber", neutral_hue="slate",
                       font=["Inter", "ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])
CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
@media (max-width: 640px) {  /* phones: the page fits the screen (390 px) without sideways scrolling */
  div { min-width: 0 !important; }  /* flex items may shrink below their content: wide tables then scroll */
  .row { flex-wrap: wrap !important; }
  .row > * { min-width: min(100%, 140px) !important; }
  .row > .column { flex: 1 1 100% !important; min-width: 100% !important; }  /* columns stack */
  #t2i-header h1 { font-size: 1.5rem; }
  .t2i-gallery .grid-container { grid-template-columns: repeat(2, minmax(0, 1fr)) !important; }
  #model-figures .grid-container { grid-template-columns: minmax(0, 1fr) !important; }
  table { display: block !important; max-width: calc(100vw - 28px) !important; overflow-x: auto !important; }
  pre { max-width: calc(100vw - 28px) !important; overflow-x: auto !important; }  /* wide tables scroll alone */
}
#t2i-header h1 { font-size: 1.9rem; margin-bottom: 0.1rem; }
#t2i-header p { color: var(--body-text-color-subdued); margin-top: 0; }
#t2i-status { font-size: 0.9rem; color: var(--body-text-color-subdued); }
.block.t2i-error { border-left: 4px solid #dc2626 !important; background: #fef2f2 !important;
                   padding: 0.7rem 1rem !important; border-radius: 8px !important; }
.block.t2i-error .prose, .block.t2i-error .prose * { color: #7f1d1d !important; }
.block.t2i-note { border-left: 4px solid #0d9488 !important; background: #f0fdfa !important;
                  padding: 0.7rem 1rem !important; border-radius: 8px !important; }
.t2i-info { font-size: 0.92rem; }
.t2i-muted { color: var(--body-text-color-subdued); font-size: 0.88rem; }
#generate-btn { min-height: 3rem; font-size: 1.05rem; }
footer { opacity: 0.7; }
.t2i-gallery .grid-wrap.fixed-height { min-height: 160px !important; max-height: none !important;
                                       height: auto !important; }
#seed-row { align-items: flex-end; }
#seed-btn { max-height: 2.6rem; margin-bottom: 0.35rem; }
#look-btn, #download-btn { max-height: 3rem; }
#word-attn img { object-fit: contain; max-height: 520px; }
#prompt-examples button, #compare-examples button { text-align: left; justify-content: flex-start; }
"""
# only the example photos are served as files; the model folders only with T2I_SERVE_CHECKPOINTS=1 (issue 27)
SERVED = [str(EXAMPLES_DIR)] + ([str(STUDIO.root)] if os.environ.get("T2I_SERVE_CHECKPOINTS") == "1" else [])
# Gradio scopes CSS= to the app's content; the page around it (whose flex min-width would widen a phone page to
# its widest table) is styled here, unscoped
HEAD = ("<style>@media (max-width: 640px) { .gradio-container, .gradio-container main, .gradio-container .wrap "
        "{ min-width: 0 !important; } .gradio-container .main { padding-left: 8px !important; "
        "padding-right: 8px !important; } }</style>")
LAUNCH_KW = dict(theme=THEME, css=CSS, head=HEAD, allowed_paths=SERVED,
                 max_file_size=os.environ.get("T2I_MAX_UPLOAD", "20mb"))


# --- helpers --------------------------------------------------------------------------------------------------
def _fail(err: BaseException):
    """Show an error: a toast and the tab's red message box (returned as its update)."""
    msg = user_message(err)
    if not isinstance(err, ValueError):
        log.exception("request failed")
    return gr.update(value=f"**⚠ {msg}**", visible=True)  # the tab's red box only: a toast would cover it


HIDE = gr.update(value="", visible=False)


def _generator_choices():
    return [(e.label(), e.name) for e in STUDIO.generators()]


def _model_info(name):
    if not name:
        return ""
    try:
        e = STUDIO.entry(name)
    except ValueError as err:
        return str(err)
    line = f"**{e.family_name}** · {e.source()}  \n{e.verdict()}"
    if not e.trained:
        return line + " Pick another model."
    line += (" " + e.plain_summary()).rstrip() + ("" if e.works else " For birds, pick a model marked ✓.")
    research = e.metrics_line()
    if research:  # the research figures, one click away
        line += f"\n\n<details><summary>Research metrics</summary>\n\n{research}\n\n</details>"
    return line


# --- handlers -------------------------------------------------------------------------------------------------
def generate(caption, model, seed, n, truncation, best_of=1, upsampled=None, request: gr.Request = None):
    NEWEST.start(_session(request))
    return _generate(caption, model, seed, n, truncation, best_of, upsampled)


def generate_on_load(caption, model, seed, n, truncation, best_of=1, upsampled=None, request: gr.Request = None):
    """The page's first images; dropped when the user asked for others while they were drawn."""
    key = _session(request)
    ticket = NEWEST.start(key)
    out = _generate(caption, model, seed, n, truncation, best_of, upsampled)
    return out if NEWEST.is_newest(key, ticket) else tuple(gr.skip() for _ in out)


def _session(request) -> object:
    return getattr(request, "session_hash", None) or id(request)


def _generate(caption, model, seed, n, truncation, best_of=1, upsampled=None):
    try:
        g = STUDIO.generate(caption, model, seed, n, truncation, best_of, upsample=upsampled)
    except Exception as err:  # noqa: BLE001 - every failure becomes a visible message
        return [], None, "", _fail(err), [], gr.update(value="Look inside", interactive=False)
    first = g.seeds[0] if g.seeds else seed
    return (STUDIO.as_files(g.gallery), str(g.grid_path), g.info, HIDE, g.seeds,
            gr.update(value=f"Look inside seed {first}", interactive=True))


def random_seed():
    return random.randrange(0, 2 ** 31)


def select_image(seeds, evt: gr.SelectData):
    """Clicking an image puts its seed in the Seed box (Generate again: it comes back as #1) and selects it."""
    k = int(evt.index) if evt is not None and evt.index is not None else 0
    if not seeds or not 0 <= k < len(seeds):
        return gr.update(), gr.update(), gr.update()
    s = int(seeds[k])
    return s, gr.update(value=f"Look inside seed {s}", interactive=True), s


def copy_settings(caption, model, chosen, truncation, best_of):
    return gr.Tabs(selected="inside"), caption, model, chosen, truncation, best_of


def look_inside(caption, model, seed, truncation, best_of, attribute):
    """Everything the model shows about the image of one seed (the Generate image that showed that seed)."""
    try:
        r = STUDIO.look_inside(caption, model, seed, 1, truncation, 1, attribute or None, rerank=best_of)
    except Exception as err:  # noqa: BLE001
        return None, [], gr.update(value=[]), gr.update(value=None), None, gr.update(), "", "", _fail(err), gr.update()
    attr = gr.update(choices=r.attribute_choices, value=r.attribute) if r.attribute_choices else gr.update()
    has_attn = r.word_attn_sheet is not None
    return (r.image, r.stages, gr.update(value=r.masks, visible=bool(r.masks)),
            gr.update(value=r.word_attn_sheet, visible=has_attn), r.cam, attr,
            r.cam_info if r.cam is not None else "", r.info, HIDE, gr.update(visible=has_attn))


def cam(caption, model, seed, truncation, best_of, attribute):
    try:
        res = STUDIO.run(caption, model, seed, 1, truncation, best_of)
        img, info, _ = STUDIO.cam(res.images[0], attribute or None, res.captions[0])
    except Exception as err:  # noqa: BLE001
        return None, "", _fail(err)
    return img, info, HIDE


def compare(caption, caption_b, models, seed, n, truncation, best_of=1):
    try:
        c = STUDIO.compare(caption, caption_b, models, seed, n, truncation, best_of)
    except Exception as err:  # noqa: BLE001
        return None, "", _fail(err)
    return c.sheet, c.info, HIDE


def prepare_upload(upload):
    if upload is None:
        return None, "", HIDE
    notes: list[str] = []
    try:
        img = STUDIO.prepare(upload, notes)
    except Exception as err:  # noqa: BLE001
        return None, "", _fail(err)
    w = img.size[0]
    msg = f"Ready: {w}×{w} px" + (" — " + "; ".join(notes) if notes else "") + "."
    return img, msg, HIDE


def pick_example(evt: gr.SelectData):
    return EXAMPLE_IMAGES[int(evt.index)] if EXAMPLE_IMAGES else None


def edit(upload, text, steps, lam, model, guidance=None, part_only=True, full_size=None, progress=gr.Progress()):
    """The Edit tab. No seed: an edit is deterministic (it starts from the photo's inversion, constant noise)."""
    if not STUDIO.edit_available():
        return None, None, None, None, "", gr.update(value=STUDIO.edit_unavailable_message(), visible=True)

    def report(i, total):
        progress((int(i), int(total)), desc="optimising the latent towards the text", unit="steps")

    try:
        out = STUDIO.edit(upload, text, steps, lam, model=model or None, progress=report, guidance=guidance,
                          part_mask=part_only, full_size=full_size)
    except Exception as err:  # noqa: BLE001
        return None, None, None, None, "", _fail(err)
    full = out.full_edited is not None  # the photo at its own size (small ones enlarged to show), the edit pasted in
    big = [upscale(im) for im in ((out.upload, out.full_inversion, out.full_edited) if full else
                                  (out.original, out.inversion, out.edited))]
    return big[0], big[1], big[2], (big[0], big[2]), out.info, HIDE


def latent_space(model):
    figs, msg = STUDIO.latent_space(model or None)
    items = [(Image.open(p).convert("RGB"), cap) for p, cap in figs]
    return gr.update(value=items, visible=bool(items)), msg


def _enlarged(path, side=768):
    """A figure as a PIL image; small grids of 32-64 px birds enlarged so the birds can be seen."""
    img = Image.open(path).convert("RGB")
    if max(img.size) < side:
        k = side / max(img.size)
        img = img.resize((round(img.size[0] * k), round(img.size[1] * k)), Image.LANCZOS)
    return img


def model_card(name):
    if not name:
        return "_No models found._", "", gr.update(value=[], visible=False)
    try:
        card, details, figures = STUDIO.model_card(name)
    except Exception as err:  # noqa: BLE001
        return f"**⚠ {user_message(err)}**", "", gr.update(value=[], visible=False)
    items = [(_enlarged(p), cap) for p, cap in figures]
    return card, details, gr.update(value=items, visible=bool(items))


# --- layout ---------------------------------------------------------------------------------------------------
gen_choices = _generator_choices()
default_model = STUDIO.default_generator()
trained_gens = [e.name for e in STUDIO.generators() if e.trained]
cam_ok = STUDIO.classifier() is not None
edit_ok = STUDIO.edit_available()
edit_models = [e.name for e in STUDIO.edit_models() if e.trained]
upsampled_ok = STUDIO.upsampling_available()
cigan_models = STUDIO.latent_models()
all_models = [(f"{e.name} · {e.family_name}", e.name) for e in STUDIO.catalogue()]

# every 5 minutes, delete cached uploads and results older than 10 minutes (an 8-image request leaves ~1 MB)
with gr.Blocks(title="T2I Studio · text-to-image birds", delete_cache=(300, 600)) as demo:
    gr.Markdown("# T2I Studio\nDescribe a bird and GAN models paint it — then look inside, compare models, "
                "and edit photos by text. Trained on SynthBirds, runs on CPU.", elem_id="t2i-header")
    gr.Markdown(STUDIO.status(), elem_id="t2i-status")
    gen_seeds = gr.State([])  # the seed of each image on show

    with gr.Tabs() as tabs:
        # 1. Generate ------------------------------------------------------------------------------------------
        with gr.Tab("Generate", id="generate"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=4, min_width=320):
                    # lines=1 (growing to 4): Enter generates, long captions still wrap
                    caption = gr.Textbox(label="Describe a bird", value=PROMPTS[0], lines=1, max_lines=4,
                                         placeholder="e.g. a small bird with a red belly and black wings",
                                         info="press Enter or Generate", elem_id="caption")
                    go = gr.Button("Generate", variant="primary", size="lg", elem_id="generate-btn")
                    model = gr.Dropdown(gen_choices, value=default_model, label="Model", elem_id="model")
                    model_info = gr.Markdown(_model_info(default_model), elem_classes="t2i-muted")
                    with gr.Accordion("Settings", open=True):
                        with gr.Row(equal_height=False, elem_id="seed-row"):
                            seed = gr.Number(0, label="Seed", precision=0, minimum=0, scale=3, min_width=100,
                                             elem_id="seed",
                                             info="image 1 uses this seed, image 2 the next one … click an "
                                                  "image to bring its bird back")
                            dice = gr.Button("New seed", size="sm", scale=1, min_width=90, elem_id="seed-btn")
                        n = gr.Slider(1, MAX_IMAGES, value=4, step=1, label="Number of images")
                        best_of = gr.Slider(1, 8, value=BEST_OF, step=1, label="Tries per image", elem_id="best-of",
                                            info="draws this many and keeps the one that matches your words best "
                                                 "(slower)")
                        upsampled = gr.Checkbox(upsampled_ok, label="Upsampled to 256 px (learned 4x upsampler)",
                                                interactive=upsampled_ok, elem_id="upsampled",
                                                info="off: the model's own 64 px images (shown enlarged)" if
                                                upsampled_ok else "no upsampler shipped: the model's own 64 px images")
                    with gr.Accordion("Advanced", open=False):
                        truncation = gr.Slider(0, 2, value=0, step=0.05, label="Truncation",
                                               info="0 = the model's default · lower = more typical birds, less "
                                                    "variety (the noise is clipped to ± this value)")
                    gr.Examples(PROMPTS, inputs=caption, label="Example captions", examples_per_page=8,
                                elem_id="prompt-examples")
                with gr.Column(scale=7, min_width=360):
                    err = gr.Markdown(visible=False, elem_classes="t2i-error")
                    gallery = gr.Gallery(elem_classes="t2i-gallery", label="Results", columns=4, object_fit="contain",
                                         preview=False, format="png", elem_id="gallery",
                                         buttons=["download", "fullscreen"])
                    info = gr.Markdown("Type a description and press **Enter**. Click an image to keep its bird "
                                       "(its seed goes into the Seed box), then *Look inside* to see how the model "
                                       "made it.", elem_classes="t2i-info", elem_id="gen-info")
                    with gr.Row(equal_height=True):
                        download = gr.DownloadButton("Download PNG grid", value=None, elem_id="download-btn")
                        look = gr.Button("Look inside", elem_id="look-btn", interactive=False)
                    chosen = gr.Number(0, visible=False, precision=0)  # the seed of the image clicked last

        # 2. Look inside ---------------------------------------------------------------------------------------
        with gr.Tab("Look inside", id="inside"):
            gr.Markdown("How the model made one bird: the picture at every stage, *where* the text was allowed to "
                        "act, which pixels read which word, and where a checker looks to see a colour. Click an "
                        "image in **Generate** and press *Look inside*, or set it up here.", elem_classes="t2i-muted")
            with gr.Row(equal_height=False):
                with gr.Column(scale=4, min_width=300):
                    li_caption = gr.Textbox(label="Caption", value=PROMPTS[0], lines=1, max_lines=4)
                    li_model = gr.Dropdown(gen_choices, value=default_model, label="Model")
                    with gr.Row():
                        li_seed = gr.Number(0, label="Seed", precision=0, minimum=0,
                                            info="the seed shown under the image")
                        li_best = gr.Slider(1, 8, value=BEST_OF, step=1, label="Tries per image")
                    with gr.Accordion("Advanced", open=False):
                        li_trunc = gr.Slider(0, 2, value=0, step=0.05, label="Truncation")
                    li_go = gr.Button("Look inside", variant="primary")
                    li_err = gr.Markdown(visible=False, elem_classes="t2i-error")
                    li_image = gr.Image(label="The image", type="pil", format="png", height=300, interactive=False)
                    li_info = gr.Markdown(elem_classes="t2i-info")
                with gr.Column(scale=8, min_width=400):
                    li_stages = gr.Gallery(elem_classes="t2i-gallery", label="Every stage, coarse → fine", columns=4,
                                           object_fit="contain", preview=False, format="png", fit_columns=False)
                    li_masks = gr.Gallery(elem_classes="t2i-gallery", columns=4, object_fit="contain", preview=False,
                                          label="Where the text may act, layer by layer (bright = acts, grey = "
                                                "left alone)", format="png", fit_columns=False)
                    li_attn_head = gr.Markdown("**Which pixels read which word** (bright = reads it more)",
                                               elem_classes="t2i-info")
                    li_attn = gr.Image(show_label=False, type="pil", format="png", interactive=False,
                                       elem_id="word-attn")
                    with gr.Row(equal_height=False, visible=cam_ok):
                        with gr.Column(scale=1):
                            li_attr = gr.Dropdown(STUDIO.attribute_choices(PROMPTS[0]) if cam_ok else [],
                                                  label="Where does a checker see this?",
                                                  info="★ = what the caption asks for · the map is Grad-CAM of "
                                                       "the attribute classifier")
                            li_cam_info = gr.Markdown(elem_classes="t2i-info")
                        li_cam = gr.Image(label="Where the checker looks", type="pil", format="png", height=280,
                                          interactive=False, scale=1)
                    gr.Markdown(STUDIO.cam_unavailable_message(), visible=not cam_ok, elem_classes="t2i-note")

        # 3. Compare -------------------------------------------------------------------------------------------
        with gr.Tab("Compare", id="compare"):
            gr.Markdown("The same caption and seed through several models side by side. Change a word in "
                        "caption B (e.g. *red belly* → *blue belly*) to see what it changes.",
                        elem_classes="t2i-muted")
            with gr.Row():
                cmp_a = gr.Textbox(label="Caption A", value=COMPARE_EXAMPLES[0][0], lines=2)
                cmp_b = gr.Textbox(label="Caption B (change a word; optional)", value=COMPARE_EXAMPLES[0][1], lines=2)
            gr.Examples(COMPARE_EXAMPLES, inputs=[cmp_a, cmp_b], label="Word swaps", elem_id="compare-examples")
            with gr.Row():
                cmp_models = gr.CheckboxGroup(gen_choices, value=trained_gens[:4], label="Models", scale=4)
                cmp_seed = gr.Number(0, label="Seed", precision=0, minimum=0, scale=1)
                cmp_n = gr.Slider(1, 4, value=1, step=1, label="Images per model", scale=2)
                cmp_best = gr.Slider(1, 8, value=BEST_OF, step=1, label="Tries per image", scale=2,
                                     info="as in Generate: the same seed gives the same bird")
            with gr.Accordion("Advanced", open=False):
                cmp_trunc = gr.Slider(0, 2, value=0, step=0.05, label="Truncation")
            cmp_go = gr.Button("Compare", variant="primary")
            cmp_err = gr.Markdown(visible=False, elem_classes="t2i-error")
            cmp_sheet = gr.Image(label="Side by side", type="pil", format="png", interactive=False,
                                 elem_id="compare-sheet")
            cmp_info = gr.Markdown(elem_classes="t2i-info")

        # 4. Edit -------------------------------------------------------------------------------------------------
        with gr.Tab("Edit", id="edit"):
            ed_unavail = gr.Markdown(STUDIO.edit_unavailable_message(), visible=not edit_ok,
                                     elem_classes="t2i-note", elem_id="edit-unavailable")
            with gr.Row(equal_height=False, visible=edit_ok):
                with gr.Column(scale=5, min_width=320):
                    # a File, not an Image: every upload reaches prepare_upload, which explains what is wrong with it
                    ed_upload = gr.File(label="Photo of a bird (PNG, JPEG or WebP)", type="filepath",
                                        file_count="single", height=120, elem_id="edit-upload")
                    ed_examples = gr.Gallery(EXAMPLE_IMAGES, label="… or pick an example", columns=4,
                                             allow_preview=False, elem_classes="t2i-gallery", format="png",
                                             visible=bool(EXAMPLE_IMAGES), fit_columns=False, elem_id="edit-examples")
                    ed_text = gr.Textbox(label="Describe the bird you want", value="this bird has a blue belly",
                                         lines=2)
                    with gr.Row():
                        ed_steps = gr.Slider(5, MAX_EDIT_STEPS, value=50, step=5, label="Steps",
                                             info="more = closer to the text, slower")
                        ed_lam = gr.Slider(0, 10, value=0.0, step=0.1, label="Preservation strength",
                                           info="higher keeps more of the photo (slower); 0 is enough when only "
                                                "the named part changes, try 1 for the whole picture")
                    ed_guid = gr.Slider(0, 20, value=EDIT_GUIDANCE, step=0.5, label="Text guidance",
                                        info="pushes the named part towards the named colour (a DAMSM text-image "
                                             "match term, ours); 0 = the paper's method (latent pull only)")
                    ed_part = gr.Checkbox(True, label="Change only the part the text names",
                                          info="keeps the rest of the photo as it is (a part segmenter finds the "
                                               "belly, wings, crown ...); off = the generator redoes the whole bird")
                    ed_full = gr.Checkbox(upsampled_ok, label="Result at your photo's size (learned 4x upsampler)",
                                          interactive=upsampled_ok, elem_id="edit-full",
                                          info="the edit is upsampled and pasted into your photo, whose own pixels "
                                               "stay outside the named part; off: the model's 64 px" if upsampled_ok
                                          else "no upsampler shipped: the model's own 64 px")
                    ed_model = gr.Dropdown(edit_models, value=edit_models[0] if edit_models else None,
                                           label="Editing model")
                    ed_go = gr.Button("Edit", variant="primary", size="lg", elem_id="edit-btn")
                with gr.Column(scale=7, min_width=360):
                    ed_err = gr.Markdown(visible=False, elem_classes="t2i-error")
                    with gr.Row(equal_height=False):
                        ed_preview = gr.Image(label="What the model gets", type="pil", format="png",
                                              interactive=False, height=200, scale=1, min_width=150)
                        ed_ready = gr.Markdown("Upload a photo or pick an example: it is cropped to a square "
                                               "and edited towards your text.", elem_classes="t2i-muted")
                    with gr.Row():
                        ed_orig = gr.Image(label="Input", type="pil", format="png", interactive=False, height=210,
                                           min_width=120)
                        ed_inv = gr.Image(label="Redraw", type="pil", format="png", interactive=False,
                                          height=210, min_width=120)
                        ed_out = gr.Image(label="Edited", type="pil", format="png", interactive=False, height=210,
                                          min_width=120)
                    ed_slider = gr.ImageSlider(label="Before / after (drag)", type="pil", format="png",
                                               interactive=False, max_height=380)
                    ed_info = gr.Markdown(elem_classes="t2i-info")
                    gr.Markdown("*Redraw* (the inversion) is the photo as the model can paint it before "
                                "any edit: the edit starts from it, so a blurry redraw means the model cannot yet "
                                "hold this photo's details and the edit will change more than the named part.",
                                elem_classes="t2i-muted")

        # 5. Latent space ----------------------------------------------------------------------------------------
        with gr.Tab("Latent space", id="latent"):
            gr.Markdown("Each dot is one bird's code in the editing model's latent space, laid out in 2-D "
                        "(t-SNE) and coloured by an attribute. ● codes the model drew from noise, ▲ codes recovered "
                        "from real pictures (inversion): when the two clouds overlap, photos can be edited like "
                        "the model's own birds.", elem_classes="t2i-muted")
            lat_model = gr.Dropdown(cigan_models, value=cigan_models[0] if cigan_models else None,
                                    label="Editing model", visible=len(cigan_models) > 1)
            lat_msg = gr.Markdown(elem_classes="t2i-note")
            lat_gallery = gr.Gallery(elem_classes="t2i-gallery", label="t-SNE of the latents", columns=2,
                                     object_fit="contain", format="png", preview=False, fit_columns=False,
                                     visible=False)

        # 6. Models ----------------------------------------------------------------------------------------------
        with gr.Tab("Models", id="models"):
            gr.Markdown("#### Text-to-image models\n" + STUDIO.overview(), elem_id="models-overview")
            mc_model = gr.Dropdown(all_models, value=default_model or (all_models[0][1] if all_models else None),
                                   label="Model card", elem_id="models-card-picker")
            with gr.Row(equal_height=False):
                with gr.Column(scale=6, min_width=300):
                    mc_card = gr.Markdown(elem_id="model-card")
                    with gr.Accordion("Research details: every metric, the config", open=False):
                        mc_metrics = gr.Markdown()
                with gr.Column(scale=5, min_width=300):
                    mc_samples = gr.Gallery(label="Pictures", columns=1, object_fit="contain", format="png",
                                            preview=False, visible=False, elem_id="model-figures",
                                            elem_classes="t2i-gallery", fit_columns=False)

    gr.Markdown(f"Models from `{STUDIO.root.name}/` · SynthBirds procedural birds · "
                "[API](?view=api) for scripted use with `gradio_client`.", elem_classes="t2i-muted")

    # --- events ---------------------------------------------------------------------------------------------
    gen_inputs = [caption, model, seed, n, truncation, best_of, upsampled]
    gen_outputs = [gallery, download, info, err, gen_seeds, look]
    go.click(generate, gen_inputs, gen_outputs, api_name="generate")
    caption.submit(generate, gen_inputs, gen_outputs, api_name="generate_on_enter")
    upsampled.input(generate, gen_inputs, gen_outputs, api_name=False)  # the same images (cached) at the other size
    model.change(_model_info, model, model_info, api_name="model_info")
    dice.click(random_seed, None, seed, api_name="random_seed")
    gallery.select(select_image, gen_seeds, [seed, look, chosen], api_name="select_image")
    gen_seeds.change(lambda s: s[0] if s else 0, gen_seeds, chosen)  # nothing clicked yet: image #1

    li_inputs = [li_caption, li_model, li_seed, li_trunc, li_best]
    li_outputs = [li_image, li_stages, li_masks, li_attn, li_cam, li_attr, li_cam_info, li_info, li_err, li_attn_head]
    look.click(copy_settings, [caption, model, chosen, truncation, best_of], [tabs] + li_inputs,
               api_name="copy_settings").then(look_inside, li_inputs + [li_attr], li_outputs,
                                              api_name="look_inside_selected")
    li_go.click(look_inside, li_inputs + [li_attr], li_outputs, api_name="look_inside")
    li_attr.input(cam, li_inputs + [li_attr], [li_cam, li_cam_info, li_err], api_name="cam")

    cmp_go.click(compare, [cmp_a, cmp_b, cmp_models, cmp_seed, cmp_n, cmp_trunc, cmp_best],
                 [cmp_sheet, cmp_info, cmp_err], api_name="compare")

    ed_examples.select(pick_example, None, ed_upload, api_name="pick_example")
    ed_upload.change(prepare_upload, ed_upload, [ed_preview, ed_ready, ed_err], api_name="prepare_upload")
    ed_upload.change(lambda _: (None, None, None, None, ""), ed_upload, [ed_orig, ed_inv, ed_out, ed_slider, ed_info],
                     api_name=False)  # a new photo: the previous result goes
    ed_go.click(edit, [ed_upload, ed_text, ed_steps, ed_lam, ed_model, ed_guid, ed_part, ed_full],
                [ed_orig, ed_inv, ed_out, ed_slider, ed_info, ed_err], api_name="edit")

    lat_model.change(latent_space, lat_model, [lat_gallery, lat_msg], api_name="latent_space")
    mc_model.change(model_card, mc_model, [mc_card, mc_metrics, mc_samples], api_name="model_card")
    demo.load(generate_on_load, gen_inputs, gen_outputs, api_name="generate_on_load")
    demo.load(latent_space, lat_model, [lat_gallery, lat_msg], api_name="latent_space_on_load")
    demo.load(model_card, mc_model, [mc_card, mc_metrics, mc_samples], api_name="model_card_on_load")

demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)


def launch(**kw):
    """demo.launch with the studio's theme, CSS and allowed paths (tests pass server_port etc.)."""
    return demo.launch(**{**LAUNCH_KW, **kw})


if __name__ == "__main__":
    demo.launch(**LAUNCH_KW)
