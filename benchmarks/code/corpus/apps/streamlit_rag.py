import streamlit as st
from langchain.chains import RetrievalQA
from langchain_community.vectorstores import FAISS
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

store = FAISS.load_local("index", OpenAIEmbeddings(), allow_dangerous_deserialization=False)
qa = RetrievalQA.from_chain_type(ChatOpenAI(), retriever=store.as_retriever())

question = st.text_input("Question")
if question:
    result = qa.invoke({"query": question})
    rendered = result["result"].replace("\n", "<br>")
    st.write(rendered, unsafe_allow_html=True)
