// SPDX-License-Identifier: Apache-2.0
// Watch streams: one JSON event per line over a chunked response, initial ADDED events (or the
// history since a resourceVersion, or an ERROR 410 when it is compacted), selector transitions
// (an object leaving a selector is DELETED for that watch), periodic and on-demand BOOKMARKs,
// `sendInitialEvents`, and the server-side timeout.
import { matchFields, matchLabels } from './selectors.mjs';
import { partialObject, toTable } from './tables.mjs';

export class Watch {
    constructor({ res, rdef, rest, store, ns, labelReqs, fieldReqs, format, bookmarks, onClose }) {
        Object.assign(this, { res, rdef, rest, store, ns, labelReqs, fieldReqs, format, bookmarks });
        this.headersSent = false;
        this.closed = false;
        this.onClose = onClose;
        this.tableHeaderSent = false;
    }

    matches(obj) {
        if (!obj) return false;
        if (this.ns !== undefined && (obj.metadata.namespace || '') !== this.ns) return false;
        if (!matchLabels(this.labelReqs, obj.metadata.labels)) return false;
        return matchFields(this.fieldReqs, obj);
    }

    render(obj) {
        const o = this.rest.toVersion(this.rdef, obj);
        if (this.format === 'table') {
            const t = toTable(this.rdef, [o], { noHeaders: this.tableHeaderSent });
            this.tableHeaderSent = true;
            return t;
        }
        if (this.format === 'metadata') return partialObject(o);
        return o;
    }

    send(type, object) {
        if (this.closed) return;
        this.res.write(`${JSON.stringify({ type, object })}\n`);
    }

    // A change event from the store (or the history): applies the selector transitions.
    notify(ev) {
        const now = ev.type === 'DELETED' ? false : this.matches(ev.obj);
        const before = ev.type === 'ADDED' ? false : ev.type === 'DELETED' ? this.matches(ev.obj) :
            ev.old ? this.matches(ev.old) : now;
        if (ev.type === 'DELETED') {
            if (before) this.send('DELETED', this.render(ev.obj));
        } else if (now && before) {
            this.send('MODIFIED', this.render(ev.obj));
        } else if (now) {
            this.send('ADDED', this.render(ev.obj));
        } else if (before && ev.old) {
            const gone = { ...ev.old, metadata: { ...ev.old.metadata, resourceVersion: ev.obj.metadata.resourceVersion } };
            this.send('DELETED', this.render(gone));
        }
    }

    bookmark(annotations) {
        if (this.closed || !this.bookmarks) return;
        const metadata = { resourceVersion: String(this.store.rv) };
        if (annotations) metadata.annotations = annotations;
        this.send('BOOKMARK', { kind: this.rdef.kind, apiVersion: this.rdef.apiVersion, metadata });
    }

    close(reset) {
        if (this.closed) return;
        this.closed = true;
        this.onClose?.();
        if (reset) this.res.destroy();
        else this.res.end();
    }
}
