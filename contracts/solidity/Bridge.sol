// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Bridge
/// @notice L1 end of the sidechain bridge. Users lock ERC-20 tokens or ETH here (`deposit`,
/// `depositETH`); the sidechain's validators release them with batches signed by more than 2/3
/// of the signer set this contract knows (`submitBatch`). The signer set is stored as a
/// checkpoint hash and rotated by the current set (`updateSignerSet`).
///
/// Safeguards: a guardian that can pause (only the admin unpauses), a per-token cap on the value
/// released over a sliding window, a delay queue for single releases above a per-token threshold,
/// a delay for signer-set changes that move at least 1/3 of the power (counted cumulatively since
/// the last delayed change), a token allowlist and a reentrancy lock. There is no initializer: everything is fixed by the constructor, which rejects
/// an empty or unreachable signer set.
///
/// A recipient whose transfer fails (a reverting contract, a blacklisted address, a transfer that
/// needs more than `TRANSFER_GAS`) does not stop the batch: its amount is credited to
/// `claimable[token][recipient]` and the recipient withdraws it later with `claim`.
contract Bridge {
    using SafeERC20 for IERC20;

    // ------------------------------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------------------------------

    /// @notice A signer set: addresses strictly ascending, powers normalized so that they add up
    /// to at most 2^32 (and to more than the threshold).
    struct SignerSet {
        uint256 nonce;
        address[] signers;
        uint256[] powers;
    }

    /// @notice One signature over an EIP-712 digest, by the member at `signerIndex` of the
    /// current signer set. Signatures in a call are ordered by strictly ascending `signerIndex`.
    struct Signature {
        uint256 signerIndex;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice A withdrawal batch cut by the sidechain: one token, a nonce that is exactly one
    /// above the last executed batch, a deadline (L1 `block.timestamp` must be below it) and a
    /// fee in the same token paid to whoever submits it.
    struct Batch {
        address token;
        uint256 nonce;
        uint256 timeout;
        uint256 fee;
        address[] recipients;
        uint256[] amounts;
    }

    /// @notice Per-token safeguards. `allowed` gates deposits; releases need a configured window.
    struct TokenConfig {
        bool allowed;
        uint32 windowSeconds;
        uint128 windowCap;
        uint128 largeReleaseThreshold;
    }

    // ------------------------------------------------------------------------------------------
    // Constants
    // ------------------------------------------------------------------------------------------

    /// @notice The token address that stands for ether.
    address public constant ETH = address(0);
    /// @notice Signer powers are normalized to add up to (at most) this.
    uint256 public constant POWER_BASE = 1 << 32;
    /// @notice floor(2/3 * 2^32). A release or a signer-set update needs strictly more power.
    uint256 public constant POWER_THRESHOLD = (POWER_BASE * 2) / 3;
    uint256 public constant MAX_SIGNERS = 256;
    uint256 public constant MAX_BATCH_SIZE = 256;
    /// @notice Gas forwarded to each recipient transfer inside a batch (ether transfers also get
    /// the 2,300 stipend). A transfer that needs more is deferred to `claimable` instead of
    /// blocking the batch; one that needs at most this much is never deferred for lack of gas.
    /// 300,000 leaves room for forks that price state growth higher (on geth's dev chain a token
    /// transfer that creates the receiver's balance costs about 124,000).
    uint256 public constant TRANSFER_GAS = 300_000;
    /// @dev Gas the caller must hold after paying for a CALL so that all but 1/64 of it (EIP-150)
    /// is at least TRANSFER_GAS: ceil(TRANSFER_GAS * 64 / 63).
    uint256 private constant FORWARD_GAS = (TRANSFER_GAS * 64 + 62) / 63;
    /// @dev The most an ether CALL charges the caller before it forwards gas: a cold recipient
    /// (EIP-2929, 2,600), a cold EIP-7702 delegation target (2,600), the value transfer (9,000; its
    /// 2,300 stipend goes to the callee on top of what is forwarded) and a new account (25,000).
    uint256 private constant ETH_CALL_COST = 2_600 + 2_600 + 9_000 + 25_000;
    /// @dev The same for a token CALL (no value): a cold token and a cold delegation target.
    uint256 private constant TOKEN_CALL_COST = 2_600 + 2_600;
    /// @dev The opcodes between the gas check and the CALL (argument setup, memory expansion).
    uint256 private constant CALL_SETUP_GAS = 1_000;
    /// @notice The sliding window is cut into this many buckets, each ceil(windowSeconds / 8)
    /// wide; the cap applies to the current bucket plus the previous `WINDOW_BUCKETS`, which
    /// covers every interval of `windowSeconds`.
    uint256 public constant WINDOW_BUCKETS = 8;
    uint256 private constant RING = WINDOW_BUCKETS + 1;
    /// @dev secp256k1 n / 2: signatures with a larger s are malleable copies and are rejected.
    uint256 private constant HALF_CURVE_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)"
    );
    bytes32 private constant NAME_HASH = keccak256("SidechainBridge");
    bytes32 private constant VERSION_HASH = keccak256("1");
    bytes32 public constant SIGNER_SET_TYPEHASH =
        keccak256("SignerSet(uint256 nonce,address[] signers,uint256[] powers)");
    bytes32 public constant BATCH_TYPEHASH = keccak256(
        "Batch(address token,uint256 nonce,uint256 timeout,uint256 fee,address[] recipients,uint256[] amounts)"
    );

    // ------------------------------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------------------------------

    /// @notice Identifies this bridge among bridges on the same chain; part of the EIP-712 domain.
    bytes32 public immutable bridgeId;
    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    // One slot: read by every deposit and batch, written by one of the nonces.
    bool public paused;
    /// @notice Nonce of the last deposit (the first deposit has nonce 1).
    uint64 public depositNonce;
    /// @notice Nonce of the last executed batch; the next batch must carry exactly one more.
    uint64 public lastBatchNonce;
    /// @notice Nonce of the last accepted signer set (active or pending).
    uint64 public signerSetNonce;

    /// @notice Hash (EIP-712 struct hash) of the active signer set.
    bytes32 public signerSetCheckpoint;
    /// @notice Hash of an accepted signer set that waits out `signerSetDelay` (zero when none).
    bytes32 public pendingSignerSetCheckpoint;
    uint64 public pendingSignerSetActivation;

    uint64 public signerSetDelay;
    uint64 public releaseDelay;
    /// @notice Power moved by the updates applied at once since the last update that waited out
    /// `signerSetDelay` (or since deployment). An update that brings it to 1/3 of POWER_BASE or
    /// more is delayed; activating it resets the count. Shares a slot with the delays.
    uint64 public signerSetPowerMoved;

    address public admin;
    address public pendingAdmin;
    address public guardian;

    mapping(address token => TokenConfig) public tokenConfig;
    /// @dev Ring of (bucket id << 192 | amount released in that bucket) per token.
    mapping(address token => uint256[RING]) private releaseWindow;
    /// @notice Amounts whose transfer failed, owed to the recipient.
    mapping(address token => mapping(address recipient => uint256)) public claimable;
    /// @notice Hash of each queued large release, by id; zero once executed or cancelled.
    mapping(uint256 id => bytes32) public queuedRelease;
    uint256 public queuedReleaseCount;

    bool private transient locked;

    // ------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------

    /// @notice Tokens locked for `recipient` on the sidechain; `amount` is what the bridge received.
    event Deposit(
        uint256 indexed nonce, address indexed token, address indexed sender, bytes20 recipient, uint256 amount
    );
    event BatchExecuted(
        uint256 indexed nonce, address indexed token, uint256 withdrawals, uint256 fee, address submitter
    );
    /// @notice A release whose transfer failed; `recipient` can `claim` it.
    event TransferDeferred(address indexed token, address indexed recipient, uint256 amount);
    event Claimed(address indexed token, address indexed recipient, address to, uint256 amount);
    event ReleaseQueued(
        uint256 indexed id, address indexed token, address indexed recipient, uint256 amount, uint256 executableAt
    );
    event ReleaseExecuted(uint256 indexed id);
    event ReleaseCancelled(uint256 indexed id);
    /// @notice A signer set was accepted; it is active from `activatesAt` (now, or after the delay).
    event SignerSetUpdated(
        uint256 indexed nonce, bytes32 checkpoint, address[] signers, uint256[] powers, uint256 activatesAt
    );
    event SignerSetActivated(uint256 indexed nonce, bytes32 checkpoint);
    event PendingSignerSetCancelled(uint256 indexed nonce, bytes32 checkpoint);
    event Paused(address by);
    event Unpaused(address by);
    event TokenConfigured(
        address indexed token, bool allowed, uint256 windowSeconds, uint256 windowCap, uint256 largeReleaseThreshold
    );
    event DelaysChanged(uint256 signerSetDelay, uint256 releaseDelay);
    event GuardianChanged(address guardian);
    event AdminTransferStarted(address pendingAdmin);
    event AdminChanged(address admin);

    // ------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------

    error Unauthorized();
    error ZeroAddress();
    error AdminIsGuardian();
    error ZeroBridgeId();
    error IsPaused();
    error NotPaused();
    error Reentrancy();
    error TokenHasNoCode(address token);
    error TokenNotAllowed(address token);
    error TokenNotConfigured(address token);
    error InvalidTokenConfig();
    error ZeroRecipient();
    error NothingReceived();
    error EmptySignerSet();
    error TooManySigners(uint256 count);
    error LengthMismatch();
    error SignersNotSorted(uint256 index);
    error ZeroPower(uint256 index);
    error TotalPowerTooHigh(uint256 total);
    error ThresholdUnreachable(uint256 total);
    error WrongSignerSet();
    error WrongSignerSetNonce(uint256 expected, uint256 got);
    error SignerSetUpdatePending();
    error NoPendingSignerSet();
    error SignerSetDelayNotOver(uint256 activatesAt);
    error SignatureOrder(uint256 position);
    error SignerIndexOutOfRange(uint256 position);
    error HighS(uint256 position);
    error SignerMismatch(uint256 position);
    error InsufficientPower(uint256 signed);
    error WrongBatchNonce(uint256 expected, uint256 got);
    error BatchExpired(uint256 timeout);
    error EmptyBatch();
    error BatchTooLarge(uint256 size);
    error WindowCapExceeded(address token, uint256 used, uint256 requested, uint256 cap);
    error FeeTransferFailed();
    error NothingToClaim();
    error TransferFailed();
    error UnknownRelease(uint256 id);
    error ReleaseNotReady(uint256 executableAt);
    error InsufficientGasForTransfer();

    // ------------------------------------------------------------------------------------------
    // Modifiers
    // ------------------------------------------------------------------------------------------

    modifier nonReentrant() {
        if (locked) revert Reentrancy();
        locked = true;
        _;
        locked = false;
    }

    modifier whenNotPaused() {
        if (paused) revert IsPaused();
        _;
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert Unauthorized();
        _;
    }

    modifier onlyGuardian() {
        if (msg.sender != guardian) revert Unauthorized();
        _;
    }

    // ------------------------------------------------------------------------------------------
    // Construction: the only initialization there is
    // ------------------------------------------------------------------------------------------

    constructor(
        address admin_,
        address guardian_,
        bytes32 bridgeId_,
        SignerSet memory initialSet,
        uint64 signerSetDelay_,
        uint64 releaseDelay_
    ) {
        if (admin_ == address(0) || guardian_ == address(0)) revert ZeroAddress();
        if (admin_ == guardian_) revert AdminIsGuardian();
        if (bridgeId_ == bytes32(0)) revert ZeroBridgeId();
        if (initialSet.nonce > type(uint64).max) revert WrongSignerSetNonce(0, initialSet.nonce);
        bytes32 checkpoint = _checkedSignerSetHash(initialSet);

        admin = admin_;
        guardian = guardian_;
        bridgeId = bridgeId_;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _buildDomainSeparator(bridgeId_);
        signerSetCheckpoint = checkpoint;
        signerSetNonce = uint64(initialSet.nonce);
        signerSetDelay = signerSetDelay_;
        releaseDelay = releaseDelay_;

        emit SignerSetUpdated(initialSet.nonce, checkpoint, initialSet.signers, initialSet.powers, block.timestamp);
        emit SignerSetActivated(initialSet.nonce, checkpoint);
        emit DelaysChanged(signerSetDelay_, releaseDelay_);
    }

    // ------------------------------------------------------------------------------------------
    // Deposits
    // ------------------------------------------------------------------------------------------

    /// @notice Locks `amount` of an allowlisted ERC-20 for `recipient` on the sidechain. The
    /// `Deposit` event carries what the bridge actually received (fee-on-transfer tokens yield
    /// less than `amount`). Requires an allowance.
    function deposit(address token, uint256 amount, bytes20 recipient)
        external
        nonReentrant
        whenNotPaused
        returns (uint256 nonce)
    {
        if (token.code.length == 0) revert TokenHasNoCode(token);
        if (!tokenConfig[token].allowed) revert TokenNotAllowed(token);
        if (recipient == bytes20(0)) revert ZeroRecipient();

        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert NothingReceived();

        nonce = _nextDepositNonce();
        emit Deposit(nonce, token, msg.sender, recipient, received);
    }

    /// @notice Locks the attached ether for `recipient` on the sidechain (if ether is allowlisted).
    function depositETH(bytes20 recipient) external payable nonReentrant whenNotPaused returns (uint256 nonce) {
        if (!tokenConfig[ETH].allowed) revert TokenNotAllowed(ETH);
        if (recipient == bytes20(0)) revert ZeroRecipient();
        if (msg.value == 0) revert NothingReceived();

        nonce = _nextDepositNonce();
        emit Deposit(nonce, ETH, msg.sender, recipient, msg.value);
    }

    function _nextDepositNonce() private returns (uint256 nonce) {
        unchecked {
            // A uint64 counter incremented once per transaction cannot wrap.
            nonce = uint256(depositNonce) + 1;
        }
        depositNonce = uint64(nonce);
    }

    // ------------------------------------------------------------------------------------------
    // Releases
    // ------------------------------------------------------------------------------------------

    /// @notice Executes a withdrawal batch signed by more than 2/3 of the power of `current`,
    /// which must be the active signer set. Amounts above the token's large-release threshold are
    /// queued for `releaseDelay`; failed transfers are credited to `claimable`. The fee goes to
    /// the caller.
    function submitBatch(SignerSet calldata current, Signature[] calldata signatures, Batch calldata batch)
        external
        nonReentrant
        whenNotPaused
    {
        uint256 expected = uint256(lastBatchNonce) + 1;
        if (batch.nonce != expected) revert WrongBatchNonce(expected, batch.nonce);
        if (block.timestamp >= batch.timeout) revert BatchExpired(batch.timeout);
        uint256 count = batch.recipients.length;
        if (count != batch.amounts.length) revert LengthMismatch();
        if (count == 0) revert EmptyBatch();
        if (count > MAX_BATCH_SIZE) revert BatchTooLarge(count);
        address token = batch.token;
        TokenConfig memory config = tokenConfig[token];
        if (config.windowSeconds == 0) revert TokenNotConfigured(token);

        _verifySignatures(current, signatures, _hashTypedData(_hashBatch(batch)));
        lastBatchNonce = uint64(expected);

        uint256 total = batch.fee;
        for (uint256 i; i < count; ++i) {
            total += batch.amounts[i];
        }
        _consumeWindow(token, total, config);

        for (uint256 i; i < count; ++i) {
            address recipient = batch.recipients[i];
            uint256 amount = batch.amounts[i];
            if (amount > config.largeReleaseThreshold) {
                _queueRelease(token, recipient, amount);
            } else {
                _release(token, recipient, amount);
            }
        }
        if (batch.fee != 0 && !_tryTransfer(token, msg.sender, batch.fee)) revert FeeTransferFailed();

        emit BatchExecuted(expected, token, count, batch.fee, msg.sender);
    }

    /// @notice Pays out a release that was queued for being large, once its delay is over.
    /// Anyone may call it; the tokens go to the recorded recipient.
    function executeRelease(uint256 id, address token, address recipient, uint256 amount, uint256 executableAt)
        external
        nonReentrant
        whenNotPaused
    {
        if (queuedRelease[id] != _releaseHash(token, recipient, amount, executableAt)) revert UnknownRelease(id);
        if (block.timestamp < executableAt) revert ReleaseNotReady(executableAt);
        delete queuedRelease[id];
        emit ReleaseExecuted(id);
        _release(token, recipient, amount);
    }

    /// @notice Withdraws what failed to reach the caller during a release, to `to`.
    function claim(address token, address to) external nonReentrant whenNotPaused {
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = claimable[token][msg.sender];
        if (amount == 0) revert NothingToClaim();
        claimable[token][msg.sender] = 0;
        if (!_tryTransfer(token, to, amount)) revert TransferFailed();
        emit Claimed(token, msg.sender, to, amount);
    }

    function _release(address token, address recipient, uint256 amount) private {
        if (amount == 0) return;
        if (!_tryTransfer(token, recipient, amount)) {
            claimable[token][recipient] += amount;
            emit TransferDeferred(token, recipient, amount);
        }
    }

    function _queueRelease(address token, address recipient, uint256 amount) private {
        uint256 id = queuedReleaseCount;
        queuedReleaseCount = id + 1;
        uint256 executableAt = block.timestamp + releaseDelay;
        queuedRelease[id] = _releaseHash(token, recipient, amount, executableAt);
        emit ReleaseQueued(id, token, recipient, amount, executableAt);
    }

    function _releaseHash(address token, address recipient, uint256 amount, uint256 executableAt)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(token, recipient, amount, executableAt));
    }

    /// @dev Sends ether or tokens with exactly TRANSFER_GAS and never reverts on the callee's
    /// behalf. Return data beyond one word is ignored, so a callee cannot grief with huge returns.
    /// The caller cannot starve the transfer on purpose: unless the gas left covers the CALL's
    /// own charges at their worst and still lets the 63/64 rule forward all of TRANSFER_GAS, the
    /// whole call reverts. A transfer that fails has therefore had its full TRANSFER_GAS.
    function _tryTransfer(address token, address to, uint256 amount) private returns (bool ok) {
        if (token == ETH) {
            if (gasleft() < FORWARD_GAS + ETH_CALL_COST + CALL_SETUP_GAS) revert InsufficientGasForTransfer();
            assembly ("memory-safe") {
                ok := call(TRANSFER_GAS, to, amount, 0, 0, 0, 0)
            }
        } else {
            if (gasleft() < FORWARD_GAS + TOKEN_CALL_COST + CALL_SETUP_GAS) revert InsufficientGasForTransfer();
            assembly ("memory-safe") {
                let p := mload(0x40)
                mstore(p, shl(224, 0xa9059cbb)) // transfer(address,uint256)
                mstore(add(p, 4), to)
                mstore(add(p, 36), amount)
                ok := call(TRANSFER_GAS, token, 0, p, 68, 0, 32)
                // Tokens that return nothing are accepted; tokens that return must return true.
                if and(ok, gt(returndatasize(), 0)) {
                    ok := and(gt(returndatasize(), 31), eq(mload(0), 1))
                }
            }
        }
    }

    /// @dev Adds `amount` to the token's sliding window and reverts if the window would exceed
    /// its cap. The current bucket and the previous WINDOW_BUCKETS count (see `_bucketWidth`).
    function _consumeWindow(address token, uint256 amount, TokenConfig memory config) private {
        uint256 bucket = block.timestamp / _bucketWidth(config.windowSeconds);
        uint256[RING] storage ring = releaseWindow[token];
        uint256 used;
        for (uint256 k; k < RING; ++k) {
            uint256 entry = ring[k];
            uint256 id = entry >> 192;
            if (id <= bucket && id + WINDOW_BUCKETS >= bucket) {
                used += uint192(entry);
            }
        }
        if (used + amount > config.windowCap) revert WindowCapExceeded(token, used, amount, config.windowCap);
        uint256 slot = bucket % RING;
        uint256 current = ring[slot];
        // Amounts are bounded by windowCap (uint128), so the low 192 bits cannot overflow.
        ring[slot] = (current >> 192 == bucket) ? current + amount : (bucket << 192) | amount;
    }

    /// @notice Value released (or queued) for `token` inside the current window.
    function windowUsage(address token) external view returns (uint256 used) {
        TokenConfig memory config = tokenConfig[token];
        if (config.windowSeconds == 0) return 0;
        uint256 bucket = block.timestamp / _bucketWidth(config.windowSeconds);
        uint256[RING] storage ring = releaseWindow[token];
        for (uint256 k; k < RING; ++k) {
            uint256 id = ring[k] >> 192;
            if (id <= bucket && id + WINDOW_BUCKETS >= bucket) used += uint192(ring[k]);
        }
    }

    /// @dev Bucket width w = ceil(windowSeconds / WINDOW_BUCKETS), rounded up so that
    /// WINDOW_BUCKETS * w >= windowSeconds. A release at time s is counted at time t while
    /// floor(t / w) - floor(s / w) <= WINDOW_BUCKETS, which holds whenever t - s < windowSeconds
    /// (then t - s <= 8w - 1, so the bucket ids differ by at most 8). A release therefore counts
    /// for at least windowSeconds and ages out at most 9w seconds after it was made.
    function _bucketWidth(uint256 windowSeconds) private pure returns (uint256) {
        return (windowSeconds + WINDOW_BUCKETS - 1) / WINDOW_BUCKETS;
    }

    // ------------------------------------------------------------------------------------------
    // Signer set
    // ------------------------------------------------------------------------------------------

    /// @notice Replaces the signer set with `next` (nonce one above the last accepted set),
    /// signed by more than 2/3 of the power of the active set `current`. Power moved by updates is
    /// added up since the last delayed update (`signerSetPowerMoved`); an update that brings the
    /// sum to 1/3 of the power or more becomes active only after `signerSetDelay` (see
    /// `activateSignerSet`), so small steps cannot walk around the delay.
    function updateSignerSet(SignerSet calldata current, SignerSet calldata next, Signature[] calldata signatures)
        external
        whenNotPaused
    {
        if (pendingSignerSetCheckpoint != bytes32(0)) revert SignerSetUpdatePending();
        uint256 expected = uint256(signerSetNonce) + 1;
        if (next.nonce != expected) revert WrongSignerSetNonce(expected, next.nonce);
        bytes32 checkpoint = _checkedSignerSetHash(next);
        _verifySignatures(current, signatures, _hashTypedData(checkpoint));
        signerSetNonce = uint64(expected);

        uint256 activatesAt = block.timestamp;
        // Each step moves at most POWER_BASE and the stored sum stays below POWER_BASE / 3.
        uint256 moved = uint256(signerSetPowerMoved) + _powerMoved(current, next);
        if (moved * 3 < POWER_BASE) {
            signerSetCheckpoint = checkpoint;
            signerSetPowerMoved = uint64(moved);
        } else if (signerSetDelay == 0) {
            signerSetCheckpoint = checkpoint;
            signerSetPowerMoved = 0;
        } else {
            activatesAt += signerSetDelay;
            pendingSignerSetCheckpoint = checkpoint;
            pendingSignerSetActivation = uint64(activatesAt);
        }
        emit SignerSetUpdated(expected, checkpoint, next.signers, next.powers, activatesAt);
        if (activatesAt == block.timestamp) emit SignerSetActivated(expected, checkpoint);
    }

    /// @notice Makes a delayed signer set active once its delay is over, and starts counting
    /// moved power afresh from it. Anyone may call it.
    function activateSignerSet() external whenNotPaused {
        bytes32 checkpoint = pendingSignerSetCheckpoint;
        if (checkpoint == bytes32(0)) revert NoPendingSignerSet();
        uint256 activatesAt = pendingSignerSetActivation;
        if (block.timestamp < activatesAt) revert SignerSetDelayNotOver(activatesAt);
        signerSetCheckpoint = checkpoint;
        delete pendingSignerSetCheckpoint;
        delete pendingSignerSetActivation;
        signerSetPowerMoved = 0;
        emit SignerSetActivated(signerSetNonce, checkpoint);
    }

    /// @dev Power moved between two sets: the larger of the power gained and the power lost,
    /// matching members by address (both sets are sorted by address).
    function _powerMoved(SignerSet calldata a, SignerSet calldata b) private pure returns (uint256) {
        uint256 gained;
        uint256 lost;
        uint256 i;
        uint256 j;
        uint256 na = a.signers.length;
        uint256 nb = b.signers.length;
        while (i < na || j < nb) {
            if (j == nb || (i < na && a.signers[i] < b.signers[j])) {
                lost += a.powers[i++];
            } else if (i == na || b.signers[j] < a.signers[i]) {
                gained += b.powers[j++];
            } else {
                uint256 pa = a.powers[i++];
                uint256 pb = b.powers[j++];
                if (pb > pa) gained += pb - pa;
                else lost += pa - pb;
            }
        }
        return gained > lost ? gained : lost;
    }

    /// @dev Checks that `set` is the active set and that `signatures` from its members carry
    /// strictly more than POWER_THRESHOLD over `digest`. Every signature given is checked.
    function _verifySignatures(SignerSet calldata set, Signature[] calldata signatures, bytes32 digest)
        private
        view
    {
        if (_signerSetHash(set) != signerSetCheckpoint) revert WrongSignerSet();
        uint256 members = set.signers.length;
        uint256 signed;
        uint256 nextIndex;
        uint256 count = signatures.length;
        for (uint256 i; i < count; ++i) {
            Signature calldata sig = signatures[i];
            uint256 index = sig.signerIndex;
            if (index < nextIndex) revert SignatureOrder(i);
            if (index >= members) revert SignerIndexOutOfRange(i);
            if (uint256(sig.s) > HALF_CURVE_ORDER) revert HighS(i);
            address recovered = ecrecover(digest, sig.v, sig.r, sig.s);
            if (recovered == address(0) || recovered != set.signers[index]) revert SignerMismatch(i);
            signed += set.powers[index];
            nextIndex = index + 1;
        }
        if (signed <= POWER_THRESHOLD) revert InsufficientPower(signed);
    }

    /// @dev Struct hash of a set given in calldata (no validation: it is compared with a stored
    /// checkpoint of a set validated on entry).
    function _signerSetHash(SignerSet calldata set) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                SIGNER_SET_TYPEHASH,
                set.nonce,
                keccak256(abi.encodePacked(set.signers)),
                keccak256(abi.encodePacked(set.powers))
            )
        );
    }

    /// @dev Validates a new signer set and returns its struct hash: non-empty, at most
    /// MAX_SIGNERS, addresses non-zero and strictly ascending, powers non-zero, total at most
    /// POWER_BASE and above POWER_THRESHOLD (otherwise no quorum could ever be reached).
    function _checkedSignerSetHash(SignerSet memory set) private pure returns (bytes32) {
        uint256 n = set.signers.length;
        if (n == 0) revert EmptySignerSet();
        if (n > MAX_SIGNERS) revert TooManySigners(n);
        if (set.powers.length != n) revert LengthMismatch();
        uint256 total;
        address previous = address(0);
        for (uint256 i; i < n; ++i) {
            address signer = set.signers[i];
            if (signer <= previous) revert SignersNotSorted(i);
            uint256 power = set.powers[i];
            if (power == 0) revert ZeroPower(i);
            if (power > POWER_BASE) revert TotalPowerTooHigh(power);
            total += power;
            previous = signer;
        }
        if (total > POWER_BASE) revert TotalPowerTooHigh(total);
        if (total <= POWER_THRESHOLD) revert ThresholdUnreachable(total);
        return keccak256(
            abi.encode(
                SIGNER_SET_TYPEHASH,
                set.nonce,
                keccak256(abi.encodePacked(set.signers)),
                keccak256(abi.encodePacked(set.powers))
            )
        );
    }

    // ------------------------------------------------------------------------------------------
    // EIP-712
    // ------------------------------------------------------------------------------------------

    function _buildDomainSeparator(bytes32 bridgeId_) private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this), bridgeId_));
    }

    function _hashTypedData(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _hashBatch(Batch calldata batch) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                BATCH_TYPEHASH,
                batch.token,
                batch.nonce,
                batch.timeout,
                batch.fee,
                keccak256(abi.encodePacked(batch.recipients)),
                keccak256(abi.encodePacked(batch.amounts))
            )
        );
    }

    /// @notice The EIP-712 domain separator: name "SidechainBridge", version "1", this chain id,
    /// this contract, salt = bridgeId. Recomputed if the chain id changes (a fork).
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == cachedChainId ? cachedDomainSeparator : _buildDomainSeparator(bridgeId);
    }

    /// @notice The digest the signer set signs to approve `batch`.
    function batchDigest(Batch calldata batch) external view returns (bytes32) {
        return _hashTypedData(_hashBatch(batch));
    }

    /// @notice The digest the active signer set signs to approve `next`.
    function signerSetDigest(SignerSet calldata next) external view returns (bytes32) {
        return _hashTypedData(_signerSetHash(next));
    }

    /// @notice The checkpoint (EIP-712 struct hash) of `set`.
    function signerSetHash(SignerSet calldata set) external pure returns (bytes32) {
        return _signerSetHash(set);
    }

    // ------------------------------------------------------------------------------------------
    // Roles and configuration
    // ------------------------------------------------------------------------------------------

    /// @notice Stops deposits, releases, claims and signer-set changes. Guardian only.
    function pause() external onlyGuardian {
        if (paused) revert IsPaused();
        paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Resumes the bridge. Admin only: the guardian that paused cannot unpause.
    function unpause() external onlyAdmin {
        if (!paused) revert NotPaused();
        paused = false;
        emit Unpaused(msg.sender);
    }

    /// @notice Drops a delayed signer set before it becomes active. Guardian only. Its nonce
    /// stays used: the next update must carry the nonce after it. The power moved by earlier
    /// immediate updates stays counted.
    function cancelPendingSignerSet() external onlyGuardian {
        bytes32 checkpoint = pendingSignerSetCheckpoint;
        if (checkpoint == bytes32(0)) revert NoPendingSignerSet();
        delete pendingSignerSetCheckpoint;
        delete pendingSignerSetActivation;
        emit PendingSignerSetCancelled(signerSetNonce, checkpoint);
    }

    /// @notice Drops a queued large release. Guardian only. The tokens stay locked in the bridge.
    function cancelRelease(uint256 id) external onlyGuardian {
        if (queuedRelease[id] == bytes32(0)) revert UnknownRelease(id);
        delete queuedRelease[id];
        emit ReleaseCancelled(id);
    }

    /// @notice Sets a token's safeguards. `windowSeconds` must be at least WINDOW_BUCKETS (the
    /// cap holds for any such length, multiple of 8 or not) and `windowCap` non-zero; `allowed` opens deposits. Resets the token's window. Admin only.
    function setTokenConfig(
        address token,
        bool allowed,
        uint32 windowSeconds,
        uint128 windowCap,
        uint128 largeReleaseThreshold
    ) external onlyAdmin {
        if (token != ETH && token.code.length == 0) revert TokenHasNoCode(token);
        if (windowSeconds < WINDOW_BUCKETS || windowCap == 0) revert InvalidTokenConfig();
        tokenConfig[token] = TokenConfig(allowed, windowSeconds, windowCap, largeReleaseThreshold);
        delete releaseWindow[token];
        emit TokenConfigured(token, allowed, windowSeconds, windowCap, largeReleaseThreshold);
    }

    function setDelays(uint64 signerSetDelay_, uint64 releaseDelay_) external onlyAdmin {
        signerSetDelay = signerSetDelay_;
        releaseDelay = releaseDelay_;
        emit DelaysChanged(signerSetDelay_, releaseDelay_);
    }

    function setGuardian(address guardian_) external onlyAdmin {
        if (guardian_ == address(0)) revert ZeroAddress();
        if (guardian_ == admin) revert AdminIsGuardian();
        guardian = guardian_;
        emit GuardianChanged(guardian_);
    }

    /// @notice First step of an admin handover; the new admin must call `acceptAdmin`.
    function transferAdmin(address newAdmin) external onlyAdmin {
        if (newAdmin == address(0)) revert ZeroAddress();
        pendingAdmin = newAdmin;
        emit AdminTransferStarted(newAdmin);
    }

    function acceptAdmin() external {
        if (msg.sender != pendingAdmin) revert Unauthorized();
        if (msg.sender == guardian) revert AdminIsGuardian();
        admin = msg.sender;
        pendingAdmin = address(0);
        emit AdminChanged(msg.sender);
    }
}
