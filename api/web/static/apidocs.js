// Starts Swagger UI (/docs) or ReDoc (/redoc) on the OpenAPI document, all from this server.
"use strict";
(function () {
  const swagger = document.getElementById("swagger-ui");
  if (swagger && window.SwaggerUIBundle) {
    window.SwaggerUIBundle({
      url: swagger.dataset.openapi,
      dom_id: "#swagger-ui",
      validatorUrl: null, // the badge would call an outside validator
      deepLinking: true,
      presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
      layout: "BaseLayout",
    });
  }
  const redoc = document.getElementById("redoc");
  if (redoc && window.Redoc) {
    // ReDoc's sidebar shows its maker's logo from a CDN; offline it would be a failed
    // request, so that one image gets an empty source (ReDoc then hides it by itself).
    const outside = (value) => /^https?:\/\//.test(String(value)) && !String(value).startsWith(location.origin);
    const setAttribute = Element.prototype.setAttribute;
    Element.prototype.setAttribute = function (name, value) {
      if (this.tagName === "IMG" && name === "src" && outside(value)) value = "data:,";
      return setAttribute.call(this, name, value);
    };
    const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
    Object.defineProperty(HTMLImageElement.prototype, "src", {
      get: src.get,
      set: function (value) { src.set.call(this, outside(value) ? "data:," : value); },
      configurable: true,
    });
    window.Redoc.init(redoc.dataset.openapi, { hideDownloadButton: false }, redoc);
  }
})();
