/* matrix-stripe web chat: the strings of the chat frame (frame.html loads
   this before chat.js). Pick a language with pick([locale, ...]). */
(function (w) {
	'use strict';
	var S = {
		en: {
			title: 'Support', close: 'Close chat', log: 'Messages', input: 'Message',
			placeholder: 'Write a message…', send: 'Send', earlier: 'Load earlier messages',
			connecting: 'Connecting…', reconnecting: 'Connection lost. Reconnecting…',
			sending: 'Sending…', failed: 'Not sent.', retry: 'Retry', edited: 'edited', you: 'You',
			ended: 'Your chat session has ended.', reload: 'Reload the page to continue.',
			error: 'Something went wrong. Please try again.', newtab: '(opens in a new tab)'
		},
		de: {
			title: 'Support', close: 'Chat schließen', log: 'Nachrichten', input: 'Nachricht',
			placeholder: 'Nachricht schreiben…', send: 'Senden', earlier: 'Frühere Nachrichten laden',
			connecting: 'Verbindung wird hergestellt…', reconnecting: 'Verbindung unterbrochen. Neuer Versuch…',
			sending: 'Wird gesendet…', failed: 'Nicht gesendet.', retry: 'Erneut versuchen', edited: 'bearbeitet', you: 'Sie',
			ended: 'Ihre Chat-Sitzung ist beendet.', reload: 'Laden Sie die Seite neu, um fortzufahren.',
			error: 'Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.', newtab: '(öffnet in einem neuen Tab)'
		},
		es: {
			title: 'Soporte', close: 'Cerrar el chat', log: 'Mensajes', input: 'Mensaje',
			placeholder: 'Escribe un mensaje…', send: 'Enviar', earlier: 'Cargar mensajes anteriores',
			connecting: 'Conectando…', reconnecting: 'Se perdió la conexión. Reconectando…',
			sending: 'Enviando…', failed: 'No enviado.', retry: 'Reintentar', edited: 'editado', you: 'Tú',
			ended: 'Tu sesión de chat ha terminado.', reload: 'Recarga la página para continuar.',
			error: 'Algo salió mal. Inténtalo de nuevo.', newtab: '(se abre en una pestaña nueva)'
		},
		fr: {
			title: 'Assistance', close: 'Fermer le chat', log: 'Messages', input: 'Message',
			placeholder: 'Écrivez un message…', send: 'Envoyer', earlier: 'Charger les messages précédents',
			connecting: 'Connexion…', reconnecting: 'Connexion perdue. Reconnexion…',
			sending: 'Envoi…', failed: 'Non envoyé.', retry: 'Réessayer', edited: 'modifié', you: 'Vous',
			ended: 'Votre session de chat est terminée.', reload: 'Rechargez la page pour continuer.',
			error: 'Une erreur s’est produite. Veuillez réessayer.', newtab: '(s’ouvre dans un nouvel onglet)'
		},
		pt: {
			title: 'Suporte', close: 'Fechar o chat', log: 'Mensagens', input: 'Mensagem',
			placeholder: 'Escreva uma mensagem…', send: 'Enviar', earlier: 'Carregar mensagens anteriores',
			connecting: 'Conectando…', reconnecting: 'Conexão perdida. Reconectando…',
			sending: 'Enviando…', failed: 'Não enviada.', retry: 'Tentar novamente', edited: 'editada', you: 'Você',
			ended: 'Sua sessão de chat terminou.', reload: 'Recarregue a página para continuar.',
			error: 'Algo deu errado. Tente novamente.', newtab: '(abre em uma nova aba)'
		}
	};

	// pick returns the first supported language of a list of BCP 47 tags
	// ("pt-BR" is pt), else en.
	function pick(tags) {
		for (var i = 0; i < (tags || []).length; i++) {
			var l = String(tags[i] || '').toLowerCase().split(/[-_]/)[0];
			if (S.hasOwnProperty(l)) return l;
		}
		return 'en';
	}

	function t(lang, key) {
		return (S[lang] && S[lang][key]) || S.en[key] || key;
	}

	w.MatrixStripeChatI18n = { strings: S, pick: pick, t: t };
})(window);
