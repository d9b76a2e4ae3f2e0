// "Notify me on this device": registers the service worker and a Web Push subscription.
(function () {
  const button = document.getElementById("enable-push");
  const status = document.getElementById("push-status");
  if (!button || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function urlBase64ToUint8Array(value) {
    const padding = "=".repeat((4 - (value.length % 4)) % 4);
    const raw = atob((value + padding).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from([...raw].map((c) => c.charCodeAt(0)));
  }

  fetch("/api/v1/push/public-key").then((response) => {
    if (!response.ok) return;
    return response.json().then(({ public_key }) => {
      if (!public_key) return; // push is turned off on this server
      button.hidden = false;
      button.addEventListener("click", async () => {
        try {
          const permission = await Notification.requestPermission();
          if (permission !== "granted") {
            status.textContent = button.dataset.denied;
            return;
          }
          const registration = await navigator.serviceWorker.register("/sw.js");
          const subscription = await registration.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: urlBase64ToUint8Array(public_key),
          });
          const saved = await fetch("/api/v1/me/push-subscriptions", {
            method: "POST",
            headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
            body: JSON.stringify(subscription.toJSON()),
          });
          status.textContent = saved.ok ? button.dataset.done : button.dataset.failed;
        } catch (error) {
          status.textContent = button.dataset.failed;
        }
      });
    });
  });
})();
