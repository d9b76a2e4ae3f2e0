// Starts Swagger UI on /api/docs. A file of our own rather than FastAPI's inline <script>, so
// that the page keeps the site's Content-Security-Policy (script-src 'self').
window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.openapi,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  // No deep links: their anchors sit inside the operation's toggle button (nested controls
  // that screen readers cannot reach, and tap targets too small).
  deepLinking: false,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
