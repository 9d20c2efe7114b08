// The frame's strings in English and Russian; the visitor's browser decides, the inbox's locale overrides.

const T = {
  en: {
    placeholder: 'Write a message…', send: 'Send', attach: 'Attach a file', close: 'Close chat',
    connecting: 'Connecting…', offline: "You're offline — messages will be sent when you're back",
    lost: 'Connection lost — reconnecting…', back: 'Back online', sending: 'Sending…', sent: 'Sent',
    read: 'Read', failed: 'Not sent', retry: 'Retry', typing: '{n} is typing…', operator: 'Operator',
    queue: 'You are number {n} in the queue', wait: 'Estimated wait: about {m} min',
    waiting: "We'll reply as soon as we can.", offerOffline: "Nobody has picked up yet. Leave your email and we'll reply.",
    leave: 'Leave your email', email: 'Email', name: 'Name', message: 'Message', submit: 'Send',
    start: 'Start chat', required: 'Required', awayUntil: "We're away. Back {t}.", away: "We're away right now.",
    offlineSent: "Thanks! We'll reply by email.", offlineIntro: "Leave a message and your email — we'll reply.", rate: 'How did we do?', comment: 'Comment (optional)',
    thanks: 'Thank you for your feedback!', resolved: 'This conversation was resolved.', online: 'We usually reply in a few minutes',
    blocked: 'Chat is not available.', tooBig: 'The file is too big', badType: 'This file type is not allowed',
    uploadFailed: 'Upload failed', star: '{n} of 5',
    joined: '{n} joined the conversation', edited: 'edited', deleted: 'Message deleted',
  },
  ru: {
    placeholder: 'Напишите сообщение…', send: 'Отправить', attach: 'Прикрепить файл', close: 'Закрыть чат',
    connecting: 'Подключение…', offline: 'Нет сети — сообщения отправятся, когда связь вернётся',
    lost: 'Связь потеряна — переподключаемся…', back: 'Снова на связи', sending: 'Отправляется…',
    sent: 'Отправлено', read: 'Прочитано', failed: 'Не отправлено', retry: 'Повторить', typing: '{n} печатает…',
    operator: 'Оператор', queue: 'Вы {n}-й в очереди', wait: 'Ожидание: около {m} мин',
    waiting: 'Мы ответим, как только сможем.', offerOffline: 'Пока никто не ответил. Оставьте почту — мы напишем.',
    leave: 'Оставить почту', email: 'Почта', name: 'Имя', message: 'Сообщение', submit: 'Отправить',
    start: 'Начать чат', required: 'Обязательное поле', awayUntil: 'Сейчас нас нет. Вернёмся {t}.',
    away: 'Сейчас нас нет на месте.', offlineSent: 'Спасибо! Мы ответим на почту.',
    offlineIntro: 'Оставьте сообщение и почту — мы ответим.', rate: 'Как мы справились?',
    comment: 'Комментарий (необязательно)', thanks: 'Спасибо за отзыв!', resolved: 'Разговор завершён.',
    online: 'Обычно отвечаем за несколько минут', blocked: 'Чат недоступен.', tooBig: 'Файл слишком большой',
    badType: 'Такой тип файла нельзя загрузить', uploadFailed: 'Не удалось загрузить', star: '{n} из 5',
    scanning: 'Проверка…', infected: 'Файл удалён: найдено вредоносное ПО', unavailable: 'Файл недоступен',
    joined: 'Вам отвечает {n}', edited: 'изменено', deleted: 'Сообщение удалено',
  },
};

export let lang = /^ru/i.test(navigator.language || "") ? "ru" : (document.body.dataset.lang === "ru" ? "ru" : "en");

/** t("queue", {n: 3}): the string in the current language with {x} placeholders filled. */
export const t = (k, v = {}) => (T[lang][k] ?? T.en[k] ?? k).replace(/\{(\w)\}/g, (_, x) => v[x]);

/** Switch to the inbox's locale when it is one we speak ("ru-RU" → ru). */
export function setLocale(locale) {
  if (locale && T[locale.slice(0, 2)]) lang = locale.slice(0, 2);
  document.documentElement.lang = lang;
}
