// Renders the OpenAPI document with Swagger UI (shipped with latchkey, no CDN).
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: node.getAttribute("data-url"), domNode: node, deepLinking: false, supportedSubmitMethods: [],
    onComplete: function () {
      // Swagger UI leaves its server picker without an accessible name.
      var servers = document.getElementById("servers");
      if (servers && !servers.getAttribute("aria-label")) { servers.setAttribute("aria-label", "Server"); }
    }
  });
});
