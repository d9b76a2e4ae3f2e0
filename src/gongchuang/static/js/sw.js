// Gongchuang service worker: shows Web Push notifications and opens their link when tapped.
self.addEventListener("push", (event) => {
  let message = { title: "共创", body: "", link: "/notifications" };
  try {
    message = Object.assign(message, event.data ? event.data.json() : {});
  } catch (error) {
    message.body = event.data ? event.data.text() : "";
  }
  event.waitUntil(
    self.registration.showNotification(message.title, {
      body: message.body,
      data: { link: message.link || "/notifications" },
      lang: "zh-CN",
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.link));
});
