"""Features - deep: train the 3D autoencoder on the training cohort, watch it learn, extract latent features."""

from __future__ import annotations


import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.imaging.deep.data import case_crop, prepare_volumes
from core.imaging.deep.features import latents_for_manifest, reconstruct
from core.imaging.deep.model import AEConfig
from core.imaging.deep.train import resolve_device, train_autoencoder
from core.errors import RadNomoError
from core.imaging.extraction.preprocess import PreprocessConfig
from core.imaging.extraction.readers import content_hash
from core.imaging.extraction.store import FeatureStore
from core.figures.charts import loss_curve_figure, reconstruction_figure
from core.io.paths import workspace_dir

ui.enter_page("pages/features_deep.py")

st.title("Features - deep")
st.caption("A 3D convolutional autoencoder learns to reconstruct the ROI-centred CT crop (1 mm, abdomen window) "
           "with the tumour mask as a second channel; its latent vector is the deep-feature set. It is trained on "
           "the training cohort only.")
ui.explain("features_deep")
study = ui.get_study()

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

if st.button("Train on the training cohort", key="ae_train", type="primary", disabled=manifest is None):
    with ui.guard():
        config = AEConfig(crop_size=int(crop), latent_size=int(latent), epochs=int(epochs),
                          batch_size=int(batch_size), learning_rate=float(learning_rate))
        train_ids = set(study.split.train_ids)
        training = manifest[manifest["ID"].isin(train_ids)]
        if max_cases:
            training = training.head(int(max_cases))
        if len(training) < 4:
            raise RadNomoError(f"only {len(training)} of the manifest's cases are in the training cohort; at least 4 "
                               "are needed (the autoencoder never sees test patients).")
        progress = st.progress(0.0, text="Preparing crops...")
        preprocess = PreprocessConfig()
        ids, volumes = prepare_volumes(training, crop_size=config.crop_size, preprocess=preprocess,
                                       workers=int(workers),
                                       on_progress=lambda d, t: progress.progress(d / t, text=f"crops {d}/{t}"))
        chart = st.empty()
        losses: list[dict] = []

        def on_epoch(epoch: int, train_loss: float, val_loss: float) -> None:
            losses.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
            progress.progress(epoch / config.epochs, text=f"epoch {epoch}/{config.epochs}: training {train_loss:.4f}, "
                                                          f"validation {val_loss:.4f}")
            chart.plotly_chart(loss_curve_figure(pd.DataFrame(losses)), key=f"ae_live_{epoch}")

        out = workspace_dir() / "autoencoders" / f"ae_{config.sha256[:12]}_{len(ids)}.safetensors"
        result = train_autoencoder(config, volumes, out, preprocess=preprocess.to_dict(), device=device,
                                   on_epoch=on_epoch)
        study.ae_weights, study.ae_history = str(result.weights_path), result.history
        study.deep = None  # latents of older weights no longer match
        st.success(f"Trained on {len(ids)} training patients ({result.device}); kept epoch {result.best_epoch} "
                   f"(validation loss {result.history['val_loss'].min():.4f}).")

if study.ae_history is not None:
    history = study.ae_history
    best = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    st.plotly_chart(loss_curve_figure(history, best), key="ae_history_figure")
    ui.csv_download(history, "ae_training_log.csv", label="Training log (CSV)", key="ae_download_log")

# ---------------------------------------------------------------------------------------------
# 3. Reconstructions
# ---------------------------------------------------------------------------------------------
st.subheader("3. Input vs reconstruction")
if study.ae_weights is None or manifest is None or manifest.empty:
    st.caption("Train (or open the sample study, which has trained weights) and choose cases to compare.")
else:
    with ui.guard():
        model, metadata = ui.autoencoder(study.ae_weights, content_hash(study.ae_weights))
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
st.subheader("4. Extract deep features")
if st.button("Extract latent features of all cases", key="ae_extract",
             disabled=study.ae_weights is None or manifest is None):
    with ui.guard():
        progress = st.progress(0.0, text="Preparing crops...")
        with FeatureStore(workspace_dir() / "features.sqlite") as store:
            study.deep = latents_for_manifest(manifest, study.ae_weights, store=store, workers=int(workers),
                                              on_progress=lambda d, t: progress.progress(d / t, text=f"{d}/{t}"))
        study.deep_source = f"extracted here from {chosen[0]}"
        st.success(f"{study.deep.shape[0]} cases × {study.deep.shape[1]} deep features.")

if study.deep is not None:
    st.markdown(f"{study.deep.shape[0]} cases × {study.deep.shape[1]} deep features — {study.deep_source}.")
    st.dataframe(study.deep.iloc[:20, :10], width="stretch")
    left, right = st.columns(2)
    with left:
        ui.csv_download(study.deep.reset_index(), "features_deep.csv", label="Deep features (CSV)",
                        key="ae_download_csv")
    with right:
        ui.parquet_download(study.deep, "features_deep.parquet", label="Deep features (Parquet)",
                            key="ae_download_parquet")
