# `dcgan grade` in a container, for machines with Docker. UNTESTED: the course's machines have no Docker engine.
# The image holds the package and its data/ folder, not instructor/: the answer key is not inside.
# Build from the repository root, then run one container per submission (instructor/README.md, "Collecting and grading"):
#   docker build -f instructor/grading.Dockerfile -t dcgan-grade .
FROM python:3.11-slim

# CPU wheels of torch: the grader never needs CUDA
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch torchvision

WORKDIR /course
COPY pyproject.toml README.md LICENSE ./
COPY dcgan_lib dcgan_lib
COPY data data
# editable, so dcgan_lib finds data/ next to it, as in a checkout
RUN pip install --no-cache-dir -e . nbclient nbformat ipykernel

ENV MPLBACKEND=Agg
ENTRYPOINT ["dcgan", "grade"]
