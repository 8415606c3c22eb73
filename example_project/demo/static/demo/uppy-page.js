// The example's Uppy page: Dashboard + tus + Golden Retriever, from the offline bundle in
// static/demo/uppy/ (the global `Uppy`). The tus endpoint and the signed-in user's API token come
// from the page's data attributes; the token (not the session cookie) authenticates, so the API may
// be on another origin (docs/tus.md, "CORS"). Golden Retriever keeps the files in IndexedDB and
// tus-js-client the upload URLs in localStorage, so a reloaded tab resumes where the server is.
(() => {
  "use strict";
  const { Uppy, Dashboard, Tus, GoldenRetriever } = window.Uppy;
  const root = document.getElementById("uppy");
  const { endpoint, token } = root.dataset;
  const chunkSize = Number(root.dataset.chunkSize) || Number.POSITIVE_INFINITY;

  const uppy = new Uppy({ id: "chunked-uploads-demo" })
    .use(Dashboard, {
      target: "#uppy-dashboard",
      inline: true,
      width: "100%",
      height: 420,
      proudlyDisplayPoweredByUppy: false,
      showProgressDetails: true,
    })
    .use(Tus, {
      endpoint,
      headers: { Authorization: `Token ${token}` },
      chunkSize,
      retryDelays: [0, 1000, 3000, 5000],
      removeFingerprintOnSuccess: true,
    })
    .use(GoldenRetriever);

  // For people (and tests) watching the page: the state and each finished upload's URL.
  const setState = (state) => {
    root.dataset.state = state;
  };
  uppy.on("upload", () => setState("uploading"));
  uppy.on("restored", () => setState("restored"));
  uppy.on("upload-error", () => setState("error"));
  uppy.on("complete", (result) => {
    const urls = result.successful.map((file) => file.uploadURL);
    root.dataset.uploadUrls = JSON.stringify(urls);
    setState(result.failed.length === 0 && urls.length > 0 ? "complete" : "error");
  });
  window.demoUppy = uppy;
  setState("ready");
})();
