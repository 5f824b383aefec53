// Renders the OpenAPI document with Swagger UI (shipped with latchkey, no CDN).
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: node.getAttribute("data-url"), domNode: node, deepLinking: false,
                           tryItOutEnabled: false, supportedSubmitMethods: [] });
});
