/* Draw the maps the _map.html macro puts on a page: markers for its points, linked to
   their pages. Tiles and attribution come from the page (the node's settings). */
(function () {
  "use strict";

  function popup(point) {
    var box = document.createElement("div");
    var text = document.createTextNode(point.title || "");
    if (point.url) {
      var link = document.createElement("a");
      link.href = point.url;
      link.appendChild(text);
      box.appendChild(link);
    } else {
      box.appendChild(text);
    }
    return box;
  }

  function draw(element) {
    var points = JSON.parse(element.getAttribute("data-points") || "[]");
    if (!points.length || !window.L) {
      return;
    }
    L.Icon.Default.imagePath = element.getAttribute("data-images");
    element.classList.add("map-ready");
    var map = L.map(element, { scrollWheelZoom: false });
    L.tileLayer(element.getAttribute("data-tiles"), {
      attribution: element.getAttribute("data-attribution"),
      maxZoom: 19,
    }).addTo(map);
    var corners = [];
    points.forEach(function (point) {
      var marker = L.marker([point.lat, point.lon], { title: point.title || "" });
      marker.bindPopup(popup(point)).addTo(map);
      corners.push([point.lat, point.lon]);
    });
    if (corners.length === 1) {
      map.setView(corners[0], 14);
    } else {
      map.fitBounds(corners, { padding: [24, 24], maxZoom: 14 });
    }
  }

  document.querySelectorAll("[data-map]").forEach(draw);
})();
