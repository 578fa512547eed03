import pickle

import streamlit as st

st.title("Inspect a fitted model")
uploaded = st.file_uploader("Upload a .pkl model", type=["pkl"])

if uploaded is not None:
    model = pickle.load(uploaded)
    st.write(type(model).__name__)
    if hasattr(model, "feature_importances_"):
        st.bar_chart(model.feature_importances_)
