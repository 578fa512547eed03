import streamlit as st
from openai import OpenAI

client = OpenAI()
st.title("Support bot")

if prompt := st.chat_input("Ask something"):
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
    )
    with st.chat_message("assistant"):
        st.markdown(reply.choices[0].message.content)
