// What the portal's editor (static/js/editor*.js) uses, exposed as one global,
// window.PaasCodeMirror, because the portal loads plain <script defer> files
// (no module loader, no import maps: nothing to allow in the CSP).
export { EditorState, StateEffect, StateField, Compartment, Annotation } from "@codemirror/state";
export {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  highlightSpecialChars, dropCursor, rectangularSelection, crosshairCursor, placeholder,
} from "@codemirror/view";
export { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
export {
  syntaxHighlighting, defaultHighlightStyle, bracketMatching, foldGutter, foldKeymap, indentOnInput,
  indentUnit,
} from "@codemirror/language";
export { linter, lintGutter, setDiagnostics, forceLinting, lintKeymap } from "@codemirror/lint";
export { search, searchKeymap, highlightSelectionMatches } from "@codemirror/search";
export { autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
export { yaml as yamlLanguage } from "@codemirror/lang-yaml";
export * as YAML from "yaml";
