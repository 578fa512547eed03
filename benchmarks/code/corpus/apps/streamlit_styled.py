import streamlit as st
from transformers import pipeline

CSS = """
<style>
.answer { font-size: 1.1rem; padding: 0.5rem; border-left: 3px solid #4a90e2; }
</style>
"""

st.markdown(CSS, unsafe_allow_html=True)
qa = pipeline("question-answering")
q = st.text_input("Question")
ctx = st.text_area("Context")
if q and ctx:
    st.text(qa(question=q, context=ctx)["answer"])
