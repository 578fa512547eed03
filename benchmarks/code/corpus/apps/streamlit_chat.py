import streamlit as st
from openai import OpenAI

client = OpenAI()
st.title("Support bot")

if prompt := st.chat_input("Ask something"):
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
    )
    answer = reply.choices[0].message.content
    st.markdown(f"<div class='bubble'>{answer}</div>", unsafe_allow_html=True)
