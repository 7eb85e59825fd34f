"""Features - deep: train the 3D autoencoder on the training cohort, watch it learn, extract latent features."""

from __future__ import annotations


import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.figures.charts import loss_curve_figure, reconstruction_figure
from core.imaging.deep.data import case_crop
from core.imaging.deep.features import latents_for_manifest, reconstruct
from core.imaging.deep.model import AEConfig
from core.imaging.deep.train import resolve_device
from core.imaging.extraction.preprocess import PreprocessConfig
from core.imaging.extraction.readers import content_hash
from core.imaging.extraction.store import FeatureStore
from core.vocabulary import check_name
from core.workflows.deep import train_deep_family
from core.workflows.sources import source_of
from core.workflows.study import FeatureFamily

ui.enter_page("pages/features_deep.py")

# What the training under way has done (stage, epochs, losses); left behind only when a run did not finish (Stop,
# or any click that interrupts it), so the next run of the page can say what was kept.
RUN_KEY = "ae_running"

st.title("Features - deep")
st.caption("A 3D convolutional autoencoder learns to reconstruct the ROI-centred CT crop (1 mm, abdomen window) "
           "with the tumour mask as a second channel; its latent vector is the deep-feature set. It is trained on "
           "the training cohort only.")
ui.explain("features_deep")
study = ui.get_study()
deep_families = [f.name for f in study.families if source_of(f).learns_from_training]  # the autoencoder's

st.subheader("1. Cases")
chosen = ui.manifest_picker("ae")
manifest = chosen[1] if chosen else None

# ---------------------------------------------------------------------------------------------
# 2. Training
# ---------------------------------------------------------------------------------------------
st.subheader("2. Train")
row1 = st.columns(4)
epochs = row1[0].number_input("Epochs", 1, 500, 30, key="ae_epochs")
latent = row1[1].number_input("Latent size", 8, 2048, 512, key="ae_latent")
learning_rate = row1[2].number_input("Learning rate", 1e-5, 0.1, 1e-3, format="%.5f", key="ae_lr")
batch_size = row1[3].number_input("Batch size", 2, 256, 8, key="ae_batch")
row2 = st.columns(4)
crop = row2[0].selectbox("Crop (voxels of 1 mm)", [64, 48, 32], key="ae_crop")
device = row2[1].selectbox("Device", ["auto", "cpu", "cuda"], key="ae_device",
                           help=f"auto uses a GPU when present (here: {resolve_device('auto')}).")
max_cases = row2[2].number_input("Training cases (0 = all)", 0, 100_000, 0, key="ae_max_cases")
workers = row2[3].number_input("Crop workers", 1, 16, 1, key="ae_workers")

names = st.columns(2)
family_name = names[0].text_input("Feature family name", value=deep_families[0] if deep_families else "dl",
                                  key="ae_family_name", help="The latent features become this family of the study.")
# Empty by default, so the label follows the family's name (a renamed family is not left with another's label).
family_label = study.label_for_family(family_name, names[1].text_input(
    "Label", value="", key="ae_family_label", placeholder=study.label_for_family(family_name),
    help="How pages, figures and the report name the family; each family needs its own. Empty: "
         f"'{study.label_for_family(family_name)}', following the name."))
family = study.family(family_name) if family_name in study.family_names else None
autoencoder = family.autoencoder if family is not None else None

if manifest is not None:
    in_training = int(manifest["ID"].isin(set(study.train_ids)).sum())
    if max_cases > in_training:
        st.caption(f"The manifest holds {in_training} training cases: all {in_training} are used, not "
                   f"{int(max_cases)}.")
    used = min(int(max_cases), in_training) if max_cases else in_training
    if batch_size > used:
        st.caption(f"A batch of {int(batch_size)} is more than the {used} training cases: each batch holds them all.")

stopped = st.session_state.pop(RUN_KEY, None)
if stopped is not None:
    if stopped["losses"]:
        st.warning(f"Training stopped after epoch {len(stopped['losses'])} of {stopped['epochs']}. No weights were "
                   "saved and the study's deep features are unchanged; the loss curve of the epochs done is below.",
                   icon=":material/stop_circle:")
        st.plotly_chart(loss_curve_figure(pd.DataFrame(stopped["losses"])), key="ae_stopped_curve")
    else:
        st.warning(f"Training stopped while preparing the crops ({stopped['crops']} done), before any epoch. "
                   "Nothing was saved and the study's deep features are unchanged.", icon=":material/stop_circle:")

if st.button("Train on the training cohort", key="ae_train", type="primary", disabled=manifest is None):
    with ui.guard():
        check_name("feature family", family_name)
        config = AEConfig(crop_size=int(crop), latent_size=int(latent), epochs=int(epochs),
                          batch_size=int(batch_size), learning_rate=float(learning_rate))
        # A click on Stop runs the page again, which ends this run at its next progress report (a crop, an epoch).
        st.button("Stop", key="ae_stop", icon=":material/stop:",
                  help="Stops after the crop or epoch under way; the loss curve so far is kept on the page.")
        progress = st.progress(0.0, text="Preparing crops...")
        chart = st.empty()
        losses: list[dict] = []
        state = st.session_state[RUN_KEY] = {"crops": "0", "epochs": config.epochs, "losses": losses}

        def on_crops(done: int, total: int) -> None:
            state["crops"] = f"{done} of {total}"
            progress.progress(done / total, text=f"crops {done}/{total}")

        def on_epoch(epoch: int, train_loss: float, val_loss: float) -> None:
            losses.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
            progress.progress(epoch / config.epochs, text=f"epoch {epoch}/{config.epochs}: training {train_loss:.4f}, "
                                                          f"validation {val_loss:.4f}")
            chart.plotly_chart(loss_curve_figure(pd.DataFrame(losses)), key=f"ae_live_{epoch}")

        folder = ui.user_space() / "autoencoders"
        folder.mkdir(exist_ok=True)
        out = folder / f"ae_{config.sha256[:12]}_{study.data_fingerprint[:8]}.safetensors"
        try:
            result = train_deep_family(manifest, study.train_ids, config, out, name=family_name, label=family_label,
                                       source=f"autoencoder trained here on the training cases of {chosen[0]}",
                                       workers=int(workers), device=device, max_training_cases=int(max_cases),
                                       on_crops=on_crops, on_epoch=on_epoch)
        except Exception:
            # An error is no Stop (the guard shows it). Streamlit's rerun on Stop is a BaseException, not an
            # Exception, so it passes by and leaves the record for the next run of the page.
            st.session_state.pop(RUN_KEY, None)
            raise
        st.session_state.pop(RUN_KEY, None)
        study = ui.set_study(study.with_family(result.family))
        family, autoencoder = result.family, result.family.autoencoder
        st.success(f"Trained on {result.n_training_cases} training patients ({result.training.device}); kept epoch "
                   f"{result.training.best_epoch} (validation loss {result.training.history['val_loss'].min():.4f}); "
                   f"{result.family.table.shape[0]} cases encoded into '{family_name}'.")

if autoencoder is not None and autoencoder.history is not None:
    history = autoencoder.history
    best = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    st.plotly_chart(loss_curve_figure(history, best), key="ae_history_figure")
    ui.csv_download(history, "ae_training_log.csv", label="Training log (CSV)", key="ae_download_log")

# ---------------------------------------------------------------------------------------------
# 3. Reconstructions
# ---------------------------------------------------------------------------------------------
st.subheader("3. Input vs reconstruction")
if autoencoder is None or manifest is None or manifest.empty:
    st.caption("Train (or open the sample study, which has trained weights) and choose cases to compare.")
else:
    with ui.guard():
        model, metadata = ui.autoencoder(autoencoder.weights, content_hash(autoencoder.weights))
        config = metadata["config"]
        case_id = st.selectbox("Case", manifest["ID"].tolist(), key="ae_view_case")
        row = manifest.set_index("ID").loc[case_id]
        crop_volume = case_crop(row["Image"], row["Mask"], config.crop_size, PreprocessConfig())
        reconstruction = reconstruct(model, crop_volume)
        axial = st.slider("Axial slice of the crop", 0, config.crop_size - 1, config.crop_size // 2, key="ae_slice")
        cohort = "training" if case_id in set(study.split.train_ids) else "test"
        st.plotly_chart(reconstruction_figure(crop_volume[0, axial], reconstruction[axial], crop_volume[1, axial],
                                              title=f"{case_id} ({cohort} cohort)"), key="ae_reconstruction")
        error = float(np.mean((reconstruction - crop_volume[0]) ** 2))
        st.caption(f"Mean squared error of this crop: {error:.4f} (window-scaled units).")

# ---------------------------------------------------------------------------------------------
# 4. Latent features
# ---------------------------------------------------------------------------------------------
st.subheader("4. Encode the cases")
st.caption("Encode every case of the manifest with the family's trained autoencoder (e.g. cases added since "
           "training); the latents are cached in the feature store under the weights' hash.")
if st.button("Encode all cases", key="ae_extract", disabled=autoencoder is None or manifest is None):
    with ui.guard():
        progress = st.progress(0.0, text="Preparing crops...")
        with FeatureStore(ui.user_space() / "features.sqlite") as store:  # this user's cache, no one else's
            table = latents_for_manifest(manifest, autoencoder.weights, store=store, workers=int(workers),
                                         on_progress=lambda d, t: progress.progress(d / t, text=f"{d}/{t}"))
        family = FeatureFamily(name=family.name, label=family.label, table=table, kind="deep",
                               source=f"encoded here from {chosen[0]}", autoencoder=autoencoder)
        study = ui.set_study(study.with_family(family))
        st.success(f"{table.shape[0]} cases × {table.shape[1]} deep features.")

if family is not None:
    st.markdown(f"{family.table.shape[0]} cases × {family.table.shape[1]} features"
                + (f" — {family.source}." if family.source else "."))
    st.dataframe(family.table.iloc[:20, :10], width="stretch")
    left, right = st.columns(2)
    with left:
        ui.csv_download(family.table.reset_index(), f"features_{family.name}.csv", label="Deep features (CSV)",
                        key="ae_download_csv")
    with right:
        ui.parquet_download(family.table, f"features_{family.name}.parquet", label="Deep features (Parquet)",
                            key="ae_download_parquet")
