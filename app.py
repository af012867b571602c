"""Web app: draw, upload or photograph a handwritten digit and see what the model reads.

    make app        # streamlit run app.py --server.address 127.0.0.1

A thin shell over the package: `digits.predict.Predictor` predicts, `digits.explain`
measures the time, finds the pixels that drove the answer and words the notes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import streamlit as st

from digits.explain import (
    Explanation,
    boxes_overlay,
    enlarge,
    explain,
    no_digit_text,
    saliency_overlay,
)
from digits.image import load_image
from digits.paths import MODEL_PATH, MODELS_DIR
from digits.predict import ModelError, Predictor

try:  # the number reader, when it is installed
    from digits.read import read_number
except ImportError:
    read_number = None

#: Model picker: label -> file (those that exist are offered; the first is the default).
MODELS = {
    "LiteRT float": MODELS_DIR / "digits_float32.tflite",
    "LiteRT int8": MODELS_DIR / "digits_int8.tflite",
    "Keras (.h5)": MODEL_PATH,
}
CANVAS_SIDE = 280
BRUSH = 22
NOTE_STYLE = {
    "low_confidence": st.warning,
    "several_digits": st.warning,
    "not_a_digit": st.warning,
    "no_digit": st.info,
    "unreadable": st.error,
}


@st.cache_resource
def model_thread() -> ThreadPoolExecutor:
    """One long-lived thread for all model calls: TensorFlow's first call in each new
    thread costs 0.1-1 s, and Streamlit runs every rerun in a new thread."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")


@st.cache_resource(show_spinner="Loading the model...")
def load_predictor(path: str) -> Predictor:
    """One Predictor per model file per process, loaded (and warmed up) in the model thread."""
    return model_thread().submit(Predictor, path).result()


def explained(predictor: Predictor, image) -> Explanation:
    return model_thread().submit(explain, predictor, image).result()


def show(result: Explanation, source: str) -> None:
    """One input's answer: digit, confidence, top 3, probabilities, what the model saw."""
    prediction = result.prediction
    if result.note.kind in NOTE_STYLE:
        NOTE_STYLE[result.note.kind](result.note.text)
    if prediction.digit is None:
        return
    answer, chart = st.columns([1, 2])
    with answer:
        big_answer(prediction, source)
        st.markdown("Top 3: " + ", ".join(f"**{d}** {p:.1%}" for d, p in prediction.top_k(3)))
        st.caption(f"Inference: {result.seconds * 1000:.1f} ms (read, preprocess, predict)")
    with chart:
        probabilities = pd.DataFrame(
            {"probability": prediction.probabilities}, index=[str(d) for d in range(10)]
        )
        st.bar_chart(probabilities, height=220, x_label="digit", y_label="probability")
    seen, why = st.columns(2)
    image = prediction.preprocessed.image
    seen.image(enlarge(image, 7), caption="The 28x28 the model saw", width=196)
    if result.saliency is not None:
        why.image(
            saliency_overlay(image, result.saliency, 7),
            caption="Pixels that drove the answer (red: hiding them lowers its probability)",
            width=196,
        )


def big_answer(prediction, source: str) -> None:
    """The answer in large type: the digit, or "not a digit" when the detector flags the
    input (a photo of a cat is not shown as a large digit); the closest digit then only
    in small type."""
    style = "font-weight:700;line-height:1"
    if prediction.not_a_digit:
        st.markdown(
            f'<div class="not-digit-answer" data-source="{source}" style="font-size:3rem;'
            f'{style}">not a digit</div>',
            unsafe_allow_html=True,
        )
        st.caption(f"Closest digit: {prediction.digit} ({prediction.confidence:.1%})")
        return
    st.markdown(
        f'<div class="digit-answer" data-source="{source}" style="font-size:6rem;{style}">'
        f"{prediction.digit}</div>",
        unsafe_allow_html=True,
    )
    st.markdown(f"**{prediction.confidence:.1%}** confident")


def drawing(name: str, width: int, height: int):
    """A canvas with a one-tap Clear; its RGBA image once something is drawn, else None."""
    from streamlit_drawable_canvas import st_canvas

    counter = f"canvas-{name}"
    if counter not in st.session_state:
        st.session_state[counter] = 0
    if st.button("Clear", key=f"clear-{name}"):
        st.session_state[counter] += 1  # a new key gives an empty canvas
    canvas = st_canvas(
        stroke_width=BRUSH,
        stroke_color="#000000",
        background_color="#ffffff",
        height=height,
        width=width,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        key=f"{counter}-{st.session_state[counter]}",
    )
    strokes = (canvas.json_data or {}).get("objects", [])
    return canvas.image_data if strokes else None


def draw(predictor: Predictor) -> None:
    st.caption("Draw one digit. The answer appears when you lift the pen.")
    image = drawing("draw", CANVAS_SIDE, CANVAS_SIDE)
    if image is None:
        st.info("Waiting for a drawing.")
        return
    show(explained(predictor, image), "draw")


def upload(predictor: Predictor) -> None:
    files = st.file_uploader(
        "Images of digits (PNG, JPEG, BMP, GIF, WebP, TIFF)", accept_multiple_files=True
    )
    for file in files or []:
        with st.container(border=True):
            st.subheader(file.name)
            show(explained(predictor, file.getvalue()), "upload")


def camera(predictor: Predictor) -> None:
    photo = st.camera_input("Photograph a digit on paper (dark ink, plain background)")
    if photo is not None:
        show(explained(predictor, photo.getvalue()), "camera")


def number(predictor: Predictor) -> None:
    """Several digits on one line (`digits.read.read_number`), with a box around each."""
    st.caption("Write a number on one line, or upload an image of one.")
    image = drawing("number", 2 * CANVAS_SIDE, CANVAS_SIDE * 3 // 4)
    file = st.file_uploader("... or an image of a number", key="number-file")
    image = file.getvalue() if file is not None else image
    if image is None:
        st.info("Waiting for a number.")
        return
    try:
        reading = model_thread().submit(read_number, image, predictor).result()
        shown = load_image(image)
    except Exception as error:  # noqa: BLE001 - a person gets a message, not a traceback
        st.error(f"This file could not be read: {error}")
        return
    if not reading.text:
        st.info(no_digit_text(reading.reason, "number"))
        return
    st.markdown(
        f'<div class="number-answer" style="font-size:4rem;font-weight:700">{reading.text}</div>',
        unsafe_allow_html=True,
    )
    if reading.kind in ("decimal", "date", "time"):  # what the marks make of the digits
        shown_value = f" = {reading.value}" if reading.value is not None else ""
        st.caption(f"Read as a {reading.kind}{shown_value}")
    if reading.low_confidence:
        st.warning(f"{reading.flag_reason} Check each digit against its box.")
    digits = reading.digits
    st.image(boxes_overlay(shown, [d.box for d in digits], [d.label for d in digits]))
    st.caption("  ".join(f"{d.label}: {d.confidence:.0%}" for d in digits))


def main() -> None:
    st.set_page_config(page_title="Handwritten digits", page_icon="✍️", layout="centered")
    st.title("Handwritten digit recognition")
    available = {label: path for label, path in MODELS.items() if path.is_file()}
    if not available:
        st.error("No model file found: train one first (see the README).")
        return
    label = st.sidebar.selectbox("Model", list(available))
    st.sidebar.caption(f"`{available[label].name}`")
    try:
        predictor = load_predictor(str(available[label]))
    except ModelError as error:
        st.error(f"This model cannot be used: {error}")
        return
    modes = {"Draw": draw, "Upload": upload, "Camera": camera}
    if read_number is not None:
        modes["Number"] = number
    mode = st.radio("Input", list(modes), horizontal=True)
    modes[mode](predictor)


main()
