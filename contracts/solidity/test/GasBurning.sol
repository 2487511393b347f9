// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @dev Refuses (reverting at once, so the caller keeps the rest) unless at least `need` gas is
/// left, then spends half of it: a contract that checks it can finish its work before starting.
/// This is the recipient a short-changed transfer hurts most, since the caller has gas left to
/// credit the failed amount.
function needGas(uint256 need) view {
    if (gasleft() < need) revert("not enough gas");
    uint256 start = gasleft();
    while (start - gasleft() < need / 2) {}
}

/// @title GasBurningReceiver
/// @notice Accepts ether only when it arrives with at least `need` gas. Cannot call `claim`: an
/// amount deferred to it is lost. Used to test that a submitter cannot force a deferral by
/// choosing the gas limit.
contract GasBurningReceiver {
    uint256 public immutable need;

    constructor(uint256 need_) {
        need = need_;
    }

    receive() external payable {
        needGas(need);
    }
}

/// @title GasBurningToken
/// @notice An ERC-20 (anyone mints) whose `transfer` succeeds only when called with at least
/// `need` gas.
contract GasBurningToken is ERC20 {
    uint256 public immutable need;

    constructor(uint256 need_) ERC20("Gas Burning Token", "GBT") {
        need = need_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        needGas(need);
        return super.transfer(to, value);
    }
}
