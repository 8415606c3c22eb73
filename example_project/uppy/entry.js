// What the example's Uppy page needs, bundled as the global `Uppy` (build.mjs).
export { default as Uppy } from "@uppy/core";
export { default as Dashboard } from "@uppy/dashboard";
export { default as GoldenRetriever } from "@uppy/golden-retriever";
export { default as Tus } from "@uppy/tus";
