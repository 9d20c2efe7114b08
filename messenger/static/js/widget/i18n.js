// The frame's strings in English and Russian; the visitor's browser decides, the inbox's locale overrides.

const T = {
  en: {
    placeholder: 'Write a message…', send: 'Send', attach: 'Attach a file', close: 'Close chat',
    connecting: 'Connecting…', offline: "You're offline — messages will be sent when you're back",
    lost: 'Connection lost — reconnecting…', back: 'Back online', sending: 'Sending…', sent: 'Sent',
    read: 'Read', failed: 'Not sent', retry: 'Retry', typing: '{n} is typing…', operator: 'Operator',
    queue: 'You are number {n} in the queue', wait: 'Estimated wait: about {m} min',
    waiting: "We'll reply as soon as we can.",
    leave: 'Leave your email', email: 'Email', name: 'Name', message: 'Message', submit: 'Send',
    start: 'Start chat', required: 'Required', awayUntil: "We're away. Back {t}.", away: "We're away right now.",
    offlineSentEmail: "Thanks! We'll reply by email.", offlineIntroEmail: "Leave a message and your email — we'll reply by email.",
    offlineSent: "Thanks! We got your message and will answer in this chat when we're back.",
    transcript: 'Email me this conversation', transcriptSent: 'Sent to {e}.',
    offlineIntro: "Leave a message and your email — we'll answer in this chat when we're back.",
    nobody: 'Nobody is online right now.', replyIn: 'Typically replies in about {m} min', rate: 'How did we do?', comment: 'Comment (optional)',
    thanks: 'Thank you for your feedback!', resolved: 'This conversation was resolved.', online: "We're online",
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
    waiting: 'Мы ответим, как только сможем.',
    leave: 'Оставить почту', email: 'Почта', name: 'Имя', message: 'Сообщение', submit: 'Отправить',
    start: 'Начать чат', required: 'Обязательное поле', awayUntil: 'Сейчас нас нет. Вернёмся {t}.',
    away: 'Сейчас нас нет на месте.', offlineSentEmail: 'Спасибо! Мы ответим на почту.',
    offlineSent: 'Спасибо! Сообщение получено — ответим в этом чате, когда вернёмся.',
    transcript: 'Прислать переписку на почту', transcriptSent: 'Отправлено на {e}.',
    offlineIntroEmail: 'Оставьте сообщение и почту — мы ответим письмом.',
    nobody: 'Сейчас никого нет на месте.', replyIn: 'Обычно отвечаем примерно за {m} мин',
    offlineIntro: 'Оставьте сообщение и почту — ответим в этом чате, когда вернёмся.', rate: 'Как мы справились?',
    comment: 'Комментарий (необязательно)', thanks: 'Спасибо за отзыв!', resolved: 'Разговор завершён.',
    online: 'Мы на связи', blocked: 'Чат недоступен.', tooBig: 'Файл слишком большой',
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
