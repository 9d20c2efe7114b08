// Panel languages (en, ru): the operator's saved choice, else the browser's language.
// Static text in app.html carries data-i18n / data-i18n-title / data-i18n-placeholder /
// data-i18n-aria keys; scripts call t(key, {param}). Dates use Intl in the same language.

const EN = {
  "brand": "Messenger",
  "search.open": "Search messages and contacts", "search.title": "Search (/ or Ctrl+K)",
  "search.placeholder": "Search messages, names, emails, phones…",
  "search.contacts": "Contacts", "search.messages": "Messages", "search.none": "Nothing found. Try fewer or shorter words.",
  "avail.title": "Your availability", "avail.online": "Online", "avail.busy": "Busy", "avail.offline": "Offline",
  "settings.open": "Settings", "help.open": "Keyboard shortcuts (?)", "signout": "Sign out", "admin": "Admin",
  "signout.everywhere": "Everywhere", "signout.everywhereTitle": "End every session of yours, on every device",
  "tab.waiting": "Waiting", "tab.mine": "Mine", "tab.unassigned": "Unassigned", "tab.all": "All",
  "tab.waiting.title": "Everything nobody has taken yet, queued (pending) or not",
  "status.open": "Open", "status.pending": "Pending", "status.snoozed": "Snoozed", "status.resolved": "Resolved",
  "status.any": "All statuses", "status.waiting": "Open and pending",
  "sort.latest": "Latest activity", "sort.oldest_waiting": "Oldest waiting", "sort.newest": "Newest", "sort.priority": "Priority",
  "filters": "Filters", "f.inbox": "All inboxes", "f.team": "All teams", "f.label": "All labels", "f.priority": "Any priority",
  "prio.0": "No priority", "prio.1": "Low", "prio.2": "Medium", "prio.3": "High", "prio.4": "Urgent", "prio.none": "None",
  "offline.title": "You are offline.",
  "offline.body": "New conversations are not routed to you. Go online and the routing sends chats your way; waiting conversations are listed under Waiting.",
  "offline.go": "Go online", "offline.stay": "Stay offline",
  "online.restored": "You are online again (your last choice): new conversations are routed to you.",
  "empty.pick": "Pick a conversation", "empty.keys": "Use J / K to move through the list, ? for all shortcuts.",
  "list.empty": "No conversations here. Nice and quiet.", "list.emptyWaiting": "Nobody is waiting. Nice and quiet.",
  "list.total": "{n} conversations", "list.total1": "1 conversation", "list.more": "{n} loaded · scroll for more",
  "list.loading": "Loading…", "list.error": "Could not load conversations: {error}",
  "card.waiting": "waiting {time}", "card.waitingTitle": "Waiting for a reply", "card.unassigned": "Unassigned",
  "card.you": "You: ", "card.noMessages": "No messages yet",
  "back": "Back to the list", "details": "Details", "details.close": "Close contact details",
  "act.priority": "Priority", "act.assign": "Assign", "act.assignTitle": "Assign (A: to me)", "act.labels": "Labels",
  "act.more": "More ▾", "act.moreTitle": "Snooze or set pending", "act.pending": "Mark as pending",
  "act.snooze1h": "Snooze 1 hour", "act.snoozeTomorrow": "Snooze until tomorrow 9:00", "act.snoozeWeek": "Snooze until next Monday 9:00",
  "act.snoozeUntil": "Snooze until…", "act.snooze": "Snooze", "act.resolve": "Resolve", "act.reopen": "Reopen",
  "act.resolveTitle": "Resolve (E)", "act.reopenTitle": "Reopen (E)",
  "assign.none": "Unassigned", "assign.me": "{name} (me)", "assign.operators": "Operators", "assign.teams": "Teams",
  "labels.none": "No labels yet (an admin creates them).",
  "conv.ref": "#{id} · {status}", "conv.until": " until {time}",
  "notice.resolved": "This conversation is resolved. A reply will reopen it.",
  "notice.other": "{name} is handling this conversation. You can still reply; they will see it.", "notice.take": "Take it",
  "toast.resolved": "Resolved", "toast.open": "Reopened", "toast.pending": "Marked as pending", "toast.snoozed": "Snoozed",
  "toast.unassigned": "Unassigned", "toast.assigned": "Assigned to {name}", "toast.assignedYou": "Assigned to you",
  "toast.assignedTeam": "Assigned to the team", "toast.conflict": "{error} The conversation now shows their change.",
  "toast.pickTime": "Pick a date and time first.", "toast.contactSaved": "Contact saved",
  "toast.start": "The panel could not start: {error}",
  "msg.loading": "Loading…", "msg.older": "Scroll up for older messages", "msg.none": "No messages yet.",
  "msg.note": "Private note", "msg.sending": "sending…", "msg.deleted": "This message was deleted.", "msg.edited": "edited",
  "msg.sent": "Sent", "msg.delivered": "Delivered", "msg.read": "Read", "msg.failed": "Failed",
  "msg.edit": "Edit", "msg.delete": "Delete", "msg.save": "Save", "msg.cancel": "Cancel",
  "msg.confirmDelete": "Delete this message for everyone?", "msg.editHint": "Enter saves · Esc cancels",
  "msg.attachment": "Attachment", "msg.visitor": "Visitor",
  "prechat.title": "Pre-chat form", "csat.title": "Customer rating", "csat.of5": "{n} of 5",
  "csat.noComment": "No comment.",
  "composer.reply": "Reply", "composer.note": "Private note",
  "composer.hint": "Enter to send · Shift+Enter for a new line · / for canned responses",
  "composer.placeholder": "Write a reply…", "composer.notePlaceholder": "Write a private note (only your team sees it)…",
  "composer.send": "Send", "composer.addNote": "Add note", "composer.emoji": "Emoji", "composer.attach": "Attach files",
  "composer.message": "Message", "composer.waitUploads": "Wait for the uploads to finish.", "composer.remove": "Remove {name}",
  "composer.resolvedWhileTyping": "This conversation was resolved while you were typing. Your message was not sent.",
  "composer.reopenSend": "Reopen and send", "typing.visitor": "{name} is typing…",
  "typing.colleague": "⚠ {names} is typing in this conversation too.", "typing.colleagues": "⚠ {names} are typing in this conversation too.",
  "typing.aColleague": "A colleague",
  "side.empty": "Contact details show here when you open a conversation.", "side.loading": "Loading contact…",
  "side.online": "● Online now", "side.lastSeen": "Last seen {time} ago", "side.contact": "Contact",
  "side.email": "Email", "side.phone": "Phone", "side.identifier": "Identifier", "side.details": "Details",
  "side.anonymous": "Anonymous visitor", "side.edit": "Edit contact", "side.browser": "Browser",
  "side.location": "Location", "side.browserName": "Browser", "side.ip": "IP", "side.ua": "User agent", "side.page": "Page",
  "side.url": "URL", "side.referrer": "Referrer", "side.verified": "Verified", "side.verifiedYes": "Yes (HMAC)",
  "side.prechat": "Pre-chat answers", "side.attributes": "Attributes", "side.conversations": "Conversations ({n})",
  "side.on": "{browser} on {os}", "side.name": "Name", "side.attrsEdit": "Attributes (one name=value per line)",
  "side.editTitle": "Edit contact", "yes": "Yes", "no": "No",
  "help.title": "Keyboard shortcuts", "help.next": "Next conversation", "help.prev": "Previous conversation",
  "help.resolve": "Resolve / reopen", "help.assign": "Assign to me", "help.reply": "Focus the composer",
  "help.noteKey": "Write a private note", "help.search": "Search", "help.esc": "Leave the composer, close overlays",
  "help.help": "This help",
  "help.composer": "In the composer: Enter sends, Shift+Enter adds a line, /code inserts a canned response (↑ ↓ Enter).",
  "close": "Close", "done": "Done",
  "settings.title": "Settings", "settings.language": "Language", "settings.langAuto": "Browser default",
  "settings.notifications": "Notifications", "settings.notify": "Browser notifications for my conversations",
  "settings.sound": "Play a sound", "settings.waiting": "Also for new conversations waiting for someone",
  "perm.none": "This browser cannot show notifications.", "perm.granted": "Browser notifications are allowed.",
  "perm.denied": "Notifications are blocked for this site in the browser settings.",
  "perm.default": "The browser will ask for permission the first time.",
  "notify.newMine": "New conversation for you", "notify.newWaiting": "New conversation waiting",
  "notify.newMessage": "New message",
  "conn.polling": "Live updates by polling", "conn.connecting": "Connecting…", "conn.offline": "Offline: reconnecting…",
  "day.today": "Today", "day.yesterday": "Yesterday", "rel.now": "now",
  "sr.note": "private note",
  "act.reopenedByVisitor": "Conversation reopened by the visitor",
  "act.status.resolved": "{by} resolved the conversation", "act.status.open": "{by} reopened the conversation",
  "act.status.pending": "{by} marked the conversation as pending", "act.snoozed": "{by} snoozed the conversation",
  "act.snoozedUntil": "{by} snoozed the conversation until {until}",
  "act.auto": "Assigned to {name}", "act.autoReason": "Assigned to {name} ({reason})",
  "act.reason.round_robin": "round robin", "act.reason.least_busy": "least busy", "act.reason.previous_operator": "previous operator",
  "act.took": "{by} took the conversation", "act.tookFrom": "{by} took the conversation from {old}",
  "act.unassigned": "{by} unassigned {old}; the conversation is back in the queue",
  "act.transferred": "{by} transferred the conversation to {name}", "act.assigned": "{by} assigned the conversation to {name}",
  "act.team": "{by} assigned the conversation to team {team}",
  "act.requeueOffline": "{name} went offline: the conversation is back in the queue",
  "act.requeueDeactivated": "{name} was deactivated: the conversation is back in the queue",
  "act.escalated": "No reply in time: reassigned from {old} to {name}",
};

const RU = {
  "brand": "Messenger",
  "search.open": "Поиск по сообщениям и контактам", "search.title": "Поиск (/ или Ctrl+K)",
  "search.placeholder": "Сообщения, имена, email, телефоны…",
  "search.contacts": "Контакты", "search.messages": "Сообщения", "search.none": "Ничего не найдено. Попробуйте меньше слов или слова короче.",
  "avail.title": "Ваш статус", "avail.online": "В сети", "avail.busy": "Занят", "avail.offline": "Не в сети",
  "settings.open": "Настройки", "help.open": "Горячие клавиши (?)", "signout": "Выйти", "admin": "Админка",
  "signout.everywhere": "Везде", "signout.everywhereTitle": "Завершить все ваши сеансы на всех устройствах",
  "tab.waiting": "Ожидают", "tab.mine": "Мои", "tab.unassigned": "Без исполнителя", "tab.all": "Все",
  "tab.waiting.title": "Всё, что ещё никто не взял: в очереди (ожидание) и открытые",
  "status.open": "Открытые", "status.pending": "В ожидании", "status.snoozed": "Отложенные", "status.resolved": "Решённые",
  "status.any": "Все статусы", "status.waiting": "Открытые и в ожидании",
  "sort.latest": "По активности", "sort.oldest_waiting": "Дольше всех ждут", "sort.newest": "Новые", "sort.priority": "По приоритету",
  "filters": "Фильтры", "f.inbox": "Все каналы", "f.team": "Все команды", "f.label": "Все метки", "f.priority": "Любой приоритет",
  "prio.0": "Без приоритета", "prio.1": "Низкий", "prio.2": "Средний", "prio.3": "Высокий", "prio.4": "Срочный", "prio.none": "Нет",
  "offline.title": "Вы не в сети.",
  "offline.body": "Новые диалоги вам не назначаются. Выйдите в сеть, и распределение начнёт направлять чаты вам; ожидающие диалоги — во вкладке «Ожидают».",
  "offline.go": "Выйти в сеть", "offline.stay": "Остаться не в сети",
  "online.restored": "Вы снова в сети (ваш последний выбор): новые диалоги назначаются вам.",
  "empty.pick": "Выберите диалог", "empty.keys": "J / K — перемещение по списку, ? — все горячие клавиши.",
  "list.empty": "Здесь нет диалогов. Тихо и спокойно.", "list.emptyWaiting": "Никто не ждёт. Тихо и спокойно.",
  "list.total": "Диалогов: {n}", "list.total1": "1 диалог", "list.more": "Загружено {n} · прокрутите, чтобы увидеть ещё",
  "list.loading": "Загрузка…", "list.error": "Не удалось загрузить диалоги: {error}",
  "card.waiting": "ждёт {time}", "card.waitingTitle": "Ждёт ответа", "card.unassigned": "Без исполнителя",
  "card.you": "Вы: ", "card.noMessages": "Сообщений пока нет",
  "back": "Назад к списку", "details": "Профиль", "details.close": "Закрыть профиль",
  "act.priority": "Приоритет", "act.assign": "Назначить", "act.assignTitle": "Назначить (A — себе)", "act.labels": "Метки",
  "act.more": "Ещё ▾", "act.moreTitle": "Отложить или перевести в ожидание", "act.pending": "Перевести в ожидание",
  "act.snooze1h": "Отложить на час", "act.snoozeTomorrow": "Отложить до завтра, 9:00", "act.snoozeWeek": "Отложить до понедельника, 9:00",
  "act.snoozeUntil": "Отложить до…", "act.snooze": "Отложить", "act.resolve": "Решить", "act.reopen": "Открыть снова",
  "act.resolveTitle": "Решить (E)", "act.reopenTitle": "Открыть снова (E)",
  "assign.none": "Без исполнителя", "assign.me": "{name} (я)", "assign.operators": "Операторы", "assign.teams": "Команды",
  "labels.none": "Меток пока нет (их создаёт администратор).",
  "conv.ref": "#{id} · {status}", "conv.until": " до {time}",
  "notice.resolved": "Диалог решён. Ответ откроет его снова.",
  "notice.other": "Диалог ведёт {name}. Вы можете ответить — коллега это увидит.", "notice.take": "Забрать себе",
  "toast.resolved": "Решено", "toast.open": "Открыто снова", "toast.pending": "В ожидании", "toast.snoozed": "Отложено",
  "toast.unassigned": "Исполнитель снят", "toast.assigned": "Назначено: {name}", "toast.assignedYou": "Назначено вам",
  "toast.assignedTeam": "Назначено команде", "toast.conflict": "{error} Теперь показано их изменение.",
  "toast.pickTime": "Сначала выберите дату и время.", "toast.contactSaved": "Контакт сохранён",
  "toast.start": "Панель не запустилась: {error}",
  "msg.loading": "Загрузка…", "msg.older": "Прокрутите вверх, чтобы увидеть более ранние сообщения", "msg.none": "Сообщений пока нет.",
  "msg.note": "Заметка", "msg.sending": "отправка…", "msg.deleted": "Сообщение удалено.", "msg.edited": "изменено",
  "msg.sent": "Отправлено", "msg.delivered": "Доставлено", "msg.read": "Прочитано", "msg.failed": "Ошибка",
  "msg.edit": "Изменить", "msg.delete": "Удалить", "msg.save": "Сохранить", "msg.cancel": "Отмена",
  "msg.confirmDelete": "Удалить сообщение для всех?", "msg.editHint": "Enter — сохранить · Esc — отмена",
  "msg.attachment": "Вложение", "msg.visitor": "Посетитель",
  "prechat.title": "Анкета перед чатом", "csat.title": "Оценка клиента", "csat.of5": "{n} из 5",
  "csat.noComment": "Без комментария.",
  "composer.reply": "Ответ", "composer.note": "Заметка",
  "composer.hint": "Enter — отправить · Shift+Enter — новая строка · / — шаблоны",
  "composer.placeholder": "Напишите ответ…", "composer.notePlaceholder": "Заметка (её видит только ваша команда)…",
  "composer.send": "Отправить", "composer.addNote": "Добавить заметку", "composer.emoji": "Эмодзи", "composer.attach": "Прикрепить файлы",
  "composer.message": "Сообщение", "composer.waitUploads": "Дождитесь окончания загрузки.", "composer.remove": "Убрать {name}",
  "composer.resolvedWhileTyping": "Пока вы писали, диалог решили. Сообщение не отправлено.",
  "composer.reopenSend": "Открыть и отправить", "typing.visitor": "{name} печатает…",
  "typing.colleague": "⚠ {names} тоже пишет в этом диалоге.", "typing.colleagues": "⚠ {names} тоже пишут в этом диалоге.",
  "typing.aColleague": "Коллега",
  "side.empty": "Здесь появится профиль, когда вы откроете диалог.", "side.loading": "Загрузка контакта…",
  "side.online": "● Сейчас на сайте", "side.lastSeen": "Был(а) {time} назад", "side.contact": "Контакт",
  "side.email": "Email", "side.phone": "Телефон", "side.identifier": "Идентификатор", "side.details": "Данные",
  "side.anonymous": "Анонимный посетитель", "side.edit": "Изменить контакт", "side.browser": "Браузер",
  "side.location": "Местоположение", "side.browserName": "Браузер", "side.ip": "IP", "side.ua": "User agent", "side.page": "Страница",
  "side.url": "URL", "side.referrer": "Откуда пришёл", "side.verified": "Проверен", "side.verifiedYes": "Да (HMAC)",
  "side.prechat": "Ответы анкеты", "side.attributes": "Атрибуты", "side.conversations": "Диалоги ({n})",
  "side.on": "{browser}, {os}", "side.name": "Имя", "side.attrsEdit": "Атрибуты (по одному имя=значение в строке)",
  "side.editTitle": "Изменить контакт", "yes": "Да", "no": "Нет",
  "help.title": "Горячие клавиши", "help.next": "Следующий диалог", "help.prev": "Предыдущий диалог",
  "help.resolve": "Решить / открыть снова", "help.assign": "Назначить себе", "help.reply": "Перейти к ответу",
  "help.noteKey": "Написать заметку", "help.search": "Поиск", "help.esc": "Выйти из поля ввода, закрыть окна",
  "help.help": "Эта справка",
  "help.composer": "В поле ввода: Enter — отправить, Shift+Enter — новая строка, /код — вставить шаблон (↑ ↓ Enter).",
  "close": "Закрыть", "done": "Готово",
  "settings.title": "Настройки", "settings.language": "Язык", "settings.langAuto": "Как в браузере",
  "settings.notifications": "Уведомления", "settings.notify": "Уведомления браузера о моих диалогах",
  "settings.sound": "Звуковой сигнал", "settings.waiting": "И о новых диалогах, которые ждут ответа",
  "perm.none": "Этот браузер не показывает уведомления.", "perm.granted": "Уведомления браузера разрешены.",
  "perm.denied": "Уведомления для этого сайта запрещены в настройках браузера.",
  "perm.default": "Браузер спросит разрешение при первом уведомлении.",
  "notify.newMine": "Новый диалог для вас", "notify.newWaiting": "Новый диалог ждёт ответа",
  "notify.newMessage": "Новое сообщение",
  "conn.polling": "Обновления через опрос", "conn.connecting": "Подключение…", "conn.offline": "Нет связи: переподключение…",
  "day.today": "Сегодня", "day.yesterday": "Вчера", "rel.now": "сейчас",
  "sr.note": "заметка",
  "act.reopenedByVisitor": "Посетитель снова открыл диалог",
  "act.status.resolved": "{by}: диалог решён", "act.status.open": "{by}: диалог открыт снова",
  "act.status.pending": "{by}: диалог переведён в ожидание", "act.snoozed": "{by}: диалог отложен",
  "act.snoozedUntil": "{by}: диалог отложен до {until}",
  "act.auto": "Назначено: {name}", "act.autoReason": "Назначено: {name} ({reason})",
  "act.reason.round_robin": "по очереди", "act.reason.least_busy": "наименее загруженному", "act.reason.previous_operator": "прежний оператор",
  "act.took": "{by}: диалог взят в работу", "act.tookFrom": "{by}: диалог взят в работу (вёл: {old})",
  "act.unassigned": "{by}: исполнитель {old} снят, диалог снова в очереди",
  "act.transferred": "{by}: диалог передан, исполнитель — {name}", "act.assigned": "{by}: назначен исполнитель — {name}",
  "act.team": "{by}: диалог передан команде «{team}»",
  "act.requeueOffline": "{name} не в сети: диалог снова в очереди",
  "act.requeueDeactivated": "Учётная запись {name} отключена: диалог снова в очереди",
  "act.escalated": "Нет ответа вовремя: диалог переназначен ({old} → {name})",
};

const DICTS = {en: EN, ru: RU};
export const LANGS = Object.keys(DICTS);
let lang = "en";

/** The browser's preferred panel language (ru when the browser prefers Russian). */
export function browserLang() {
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const p of prefs) {
    const base = String(p).slice(0, 2).toLowerCase();
    if (DICTS[base]) return base;
  }
  return "en";
}

/** Use ``saved`` (the operator's choice) when set, else the browser's language. */
export function setLang(saved) {
  lang = saved && DICTS[saved] ? saved : browserLang();
  document.documentElement.lang = lang;
  return lang;
}

export const getLang = () => lang;

/** The text for ``key`` with {name} placeholders filled; English when a key is missing. */
export function t(key, params) {
  const text = (DICTS[lang] && DICTS[lang][key]) ?? EN[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, k) => (params[k] === undefined ? m : String(params[k])));
}

/** Translate the static page: data-i18n (text), -title, -placeholder, -aria (aria-label). */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
}
